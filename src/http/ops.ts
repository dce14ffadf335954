import type { OpenAPIHono, RouteConfig } from "@hono/zod-openapi";
import { metricsRoute } from "../../openapi/routes.js";
import { BEARER_SCHEME, bearerAuth, bearerSecurityScheme, type AuthRejection } from "./auth.js";
import { requestId, type RequestLogEntry } from "./request-id.js";

/** Renders the Prometheus scrape (ServiceMetrics implements it). */
export interface MetricsEndpoint {
  readonly contentType: string;
  render(): Promise<string>;
}

/** The operational parts of the app: request ids, API keys, /metrics. All optional. */
export interface OpsDeps {
  /** Keys accepted as `Authorization: Bearer <key>` on /execute, /mcp and /metrics; none means open. */
  readonly apiKeys?: readonly string[];
  readonly metrics?: MetricsEndpoint;
  /** Called once per finished HTTP request (the access log). */
  readonly onRequest?: (entry: RequestLogEntry) => void;
  /** Called for each request refused for a missing or wrong key (never with the key). */
  readonly onUnauthorized?: (event: { requestId: string; method: string; path: string; reason: AuthRejection }) => void;
}

/** Paths behind the API key; /health (probes), the pages (/, /docs) and /openapi.json stay open. */
export const PROTECTED_PATHS = ["/execute", "/mcp", "/metrics"] as const;

/**
 * Installs request ids, auth and /metrics on `app`. Call it first, so its middleware runs
 * before any other (an unauthenticated body is never read). Returns `secure`, which marks a
 * route as needing the key in the OpenAPI document when auth is on.
 */
export function installOps(app: OpenAPIHono, deps: OpsDeps): { secure: <R extends RouteConfig>(route: R) => R } {
  app.use("*", requestId(deps.onRequest ? { onResponse: deps.onRequest } : {}));

  const keys = deps.apiKeys ?? [];
  const authOn = keys.length > 0;
  if (authOn) {
    const auth = bearerAuth(keys, (reason, c) =>
      deps.onUnauthorized?.({ requestId: c.get("requestId"), method: c.req.method, path: c.req.path, reason }),
    );
    for (const path of PROTECTED_PATHS) app.use(path, auth);
    app.openAPIRegistry.registerComponent("securitySchemes", BEARER_SCHEME, bearerSecurityScheme);
  }
  const secure = <R extends RouteConfig>(route: R): R => (authOn ? { ...route, security: [{ [BEARER_SCHEME]: [] }] } : route);

  const metrics = deps.metrics;
  if (metrics) {
    app.openapi(secure(metricsRoute), async (c) =>
      c.text(await metrics.render(), 200, { "content-type": metrics.contentType, "cache-control": "no-store" }),
    );
  }
  return { secure };
}
