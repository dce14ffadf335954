import { swaggerUI } from "@hono/swagger-ui";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { SERVICE } from "../service.js";
import type { SwaggerAssets } from "./swagger-assets.js";

/** GET /openapi.json, and the Swagger UI at /docs with its files served by the service itself. */
export function serveDocs(app: OpenAPIHono, assets: SwaggerAssets): void {
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: { title: SERVICE.title, version: SERVICE.version, description: SERVICE.description },
  });
  app.get("/docs", swaggerUI({ url: "/openapi.json", baseUrl: "/docs/assets", title: SERVICE.title, tryItOutEnabled: true }));
  app.get("/docs/assets/swagger-ui-dist/:file", (c) => {
    const asset = assets.get(c.req.param("file"));
    if (!asset) return c.notFound();
    return c.body(asset.body as Uint8Array<ArrayBuffer>, 200, { "content-type": asset.contentType, "cache-control": "public, max-age=86400" });
  });
}
