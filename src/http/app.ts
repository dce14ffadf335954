import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { methodNotAllowed } from "hono/method-not-allowed";
import { invalidRequestMessage } from "../../openapi/request-issues.js";
import { executeRoute, healthRoute, metricsRoute } from "../../openapi/routes.js";
import type { HealthBody } from "../../openapi/schemas.js";
import { type RunPythonDeps, runPythonServers } from "../mcp/run-python-server.js";
import type { Execute } from "../observability/observe-executions.js";
import { accessLog, type RequestLogEntry } from "./access-log.js";
import { ownerOfRequests, requireApiKeys, type UnauthorizedEvent } from "./auth.js";
import { serveDocs } from "./docs.js";
import { type ExecuteLimits, executeBodyChecks, executeHandler, maxBodyBytes } from "./execute.js";
import { type IdempotentRequest, idempotentExecutions } from "./idempotency.js";
import type { IdempotencyStore } from "./idempotency-store.js";
import { notJsonMessage } from "./json-syntax.js";
import { installMcpEndpoint } from "./mcp-endpoint.js";
import { refuseOAuth } from "./no-oauth.js";
import { installPlayground, type PlaygroundAssets } from "./playground.js";
import { requestIds } from "./request-id.js";
import { errorResponse } from "./responses.js";
import { defaultIdleMs, installSessionRoutes, type SessionsApi } from "./sessions.js";
import type { SwaggerAssets } from "./swagger-assets.js";

/** Renders the Prometheus scrape (ServiceMetrics implements it). */
interface MetricsEndpoint {
  readonly contentType: string;
  render(): Promise<string>;
}

export interface AppDeps {
  readonly execute: Execute;
  readonly health: () => HealthBody;
  readonly limits: ExecuteLimits;
  /**
   * Serves /sessions when given: the sessions, and the bounds of their idle timeout and age. The
   * MCP tools offer sessions too unless the server keeps none (maxSessions 0).
   */
  readonly sessions?: { readonly api: SessionsApi; readonly maxIdleMs: number; readonly maxAgeMs: number; readonly maxSessions: number };
  readonly swaggerAssets: SwaggerAssets;
  readonly playgroundAssets: PlaygroundAssets;
  /** Keys accepted as `Authorization: Bearer <key>` on /execute, /sessions, /mcp and /metrics; none means open. */
  readonly apiKeys?: readonly string[];
  /** Remembers the answers to POST /execute, POST /sessions and cells sent with an Idempotency-Key; without it the header is ignored. */
  readonly idempotency?: IdempotencyStore;
  /** Serves GET /metrics when given. */
  readonly metrics?: MetricsEndpoint;
  /** Called once per finished HTTP request (the access log). */
  readonly onRequest?: (entry: RequestLogEntry) => void;
  readonly onUnauthorized?: (event: UnauthorizedEvent) => void;
  /** Called once per POST /execute request sent with an Idempotency-Key. */
  readonly onIdempotentRequest?: (request: IdempotentRequest) => void;
  readonly onInternalError?: (error: unknown, requestId?: string) => void;
}

/** The HTTP face of the service, in the order a request meets it. It never listens; main.ts does. */
export function createApp(deps: AppDeps): OpenAPIHono {
  const app = new OpenAPIHono({
    defaultHook: (result) => {
      if (result.success) return;
      return errorResponse("INVALID_REQUEST", invalidRequestMessage(result.error.issues));
    },
  });

  app.use(requestIds());
  if (deps.onRequest) app.use(accessLog(deps.onRequest));
  app.use(
    methodNotAllowed({
      app,
      onMethodNotAllowed: (c, allowed) => {
        const response = errorResponse("METHOD_NOT_ALLOWED", `${c.req.method} is not allowed on ${c.req.path}; use ${allowed.join(" or ")}`);
        response.headers.set("Allow", allowed.join(", "));
        return response;
      },
    }),
  );
  const secure = requireApiKeys(app, deps.apiKeys ?? [], deps.onUnauthorized);
  const idempotent = deps.idempotency && idempotentExecutions(deps.idempotency, deps.onIdempotentRequest);
  app.post("/execute", ...executeBodyChecks(deps.limits));
  if (idempotent) app.post("/execute", idempotent);

  app.openapi(secure(executeRoute(deps.limits)), executeHandler(deps.execute, deps.limits));
  const owners = ownerOfRequests(deps.apiKeys ?? []);
  const ownerOf = (c: Context) => owners(c.req.header("authorization"));
  let agentSessions: RunPythonDeps["sessions"];
  if (deps.sessions) {
    const { api, maxIdleMs, maxAgeMs, maxSessions } = deps.sessions;
    const limits = { ...deps.limits, maxIdleMs, maxAgeMs, defaultIdleMs: defaultIdleMs(maxIdleMs) };
    installSessionRoutes(app, secure, { sessions: api, limits, ownerOf, ...(idempotent ? { idempotent } : {}) });
    if (maxSessions > 0) agentSessions = { api, limits };
  }
  installMcpEndpoint(app, {
    newServer: runPythonServers({ execute: deps.execute, limits: deps.limits, sessions: agentSessions }),
    ownerOf,
    maxBodyBytes: maxBodyBytes(deps.limits),
  });
  refuseOAuth(app);
  app.openapi(healthRoute, (c) => c.json(deps.health(), 200));
  const metrics = deps.metrics;
  if (metrics) {
    app.openapi(secure(metricsRoute), async (c) => c.text(await metrics.render(), 200, { "content-type": metrics.contentType, "cache-control": "no-store" }));
  }
  serveDocs(app, deps.swaggerAssets);
  installPlayground(app, deps.playgroundAssets);

  app.notFound((c) => errorResponse("NOT_FOUND", `No route for ${c.req.method} ${c.req.path}`));
  app.onError(async (error, c) => {
    if (error instanceof HTTPException && error.status === 400) return errorResponse("INVALID_REQUEST", notJsonMessage(await c.req.text()));
    // Hono's JSON validator is stricter about media-type parameters than requireJson ("application/json;").
    if (error instanceof HTTPException && error.status === 415) {
      return errorResponse(
        "UNSUPPORTED_MEDIA_TYPE",
        `Content-Type must be application/json without malformed parameters, got "${c.req.header("content-type")}"`,
      );
    }
    deps.onInternalError?.(error, c.get("requestId"));
    return errorResponse("INTERNAL", "Internal error");
  });
  return app;
}
