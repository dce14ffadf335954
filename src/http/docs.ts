import type { OpenAPIHono } from "@hono/zod-openapi";
import { swaggerUI } from "@hono/swagger-ui";
import type { SwaggerAssets } from "./swagger-assets.js";

const TITLE = "Python execution service";

/** GET /openapi.json, and the Swagger UI at /docs with its files served by the service itself. */
export function serveDocs(app: OpenAPIHono, assets: SwaggerAssets): void {
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: TITLE,
      version: "0.1.0",
      description: "Runs an untrusted Python script in a sandbox and returns main()'s JSON result with the captured output.",
    },
  });
  app.get("/docs", swaggerUI({ url: "/openapi.json", baseUrl: "/docs/assets", title: TITLE, tryItOutEnabled: true }));
  app.get("/docs/assets/swagger-ui-dist/:file", (c) => {
    const asset = assets.get(c.req.param("file"));
    if (!asset) return c.notFound();
    return c.body(asset.body as Uint8Array<ArrayBuffer>, 200, { "content-type": asset.contentType, "cache-control": "public, max-age=86400" });
  });
}
