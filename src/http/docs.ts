import { swaggerUI } from "@hono/swagger-ui";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { IDEMPOTENCY_KEY_HEADER } from "../../openapi/idempotency-key.js";
import { SERVICE } from "../service.js";
import type { SwaggerAssets } from "./swagger-assets.js";

/**
 * Swagger UI's requestInterceptor (browser JavaScript, as text): each "Execute" of POST /execute
 * gets an Idempotency-Key of its own, unless the form gave one (the document's own fetch has no
 * method). Chromium sends a request again when it was answered 408 (a TIMEOUT) on a reused
 * connection; with the key, the server answers the resend instead of running the script again.
 * No crypto.randomUUID(): a page on plain http at a server's name is no secure context.
 */
const ADD_IDEMPOTENCY_KEY = `(request) => {
  const header = ${JSON.stringify(IDEMPOTENCY_KEY_HEADER)};
  const execute = String(request.method).toUpperCase() === "POST" && new URL(request.url, window.location.href).pathname === "/execute";
  if (execute && !Object.keys(request.headers).some((name) => name.toLowerCase() === header.toLowerCase())) {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    request.headers[header] = '"' + Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("") + '"';
  }
  return request;
}`;

/** GET /openapi.json, and the Swagger UI at /docs with its files served by the service itself. */
export function serveDocs(app: OpenAPIHono, assets: SwaggerAssets): void {
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: { title: SERVICE.title, version: SERVICE.version, description: SERVICE.description },
  });
  app.get(
    "/docs",
    swaggerUI({ url: "/openapi.json", baseUrl: "/docs/assets", title: SERVICE.title, tryItOutEnabled: true, requestInterceptor: ADD_IDEMPOTENCY_KEY }),
  );
  app.get("/docs/assets/swagger-ui-dist/:file", (c) => {
    const asset = assets.get(c.req.param("file"));
    if (!asset) return c.notFound();
    return c.body(asset.body as Uint8Array<ArrayBuffer>, 200, { "content-type": asset.contentType, "cache-control": "public, max-age=86400" });
  });
}
