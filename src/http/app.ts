import { OpenAPIHono } from "@hono/zod-openapi";
import { swaggerUI } from "@hono/swagger-ui";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import type { MiddlewareHandler } from "hono";
import { executeRoute, healthRoute } from "../../openapi/routes.js";
import type { HealthBody } from "../../openapi/schemas.js";
import type { Execute } from "../observability/observe-executions.js";
import { runPythonServers } from "../mcp/run-python-server.js";
import { SERVICE } from "../service.js";
import { exactFieldJson } from "./exact-json.js";
import { executionRequestOf, type ServerLimits } from "./execution-request.js";
import { installMcpEndpoint } from "./mcp-endpoint.js";
import { installOps, type OpsDeps } from "./ops.js";
import { installPlayground, type PlaygroundAssets } from "./playground.js";
import { errorResponse, failureResponse, successResponse } from "./responses.js";

export interface AppDeps extends OpsDeps {
  readonly execute: Execute;
  readonly health: () => HealthBody;
  readonly limits: ServerLimits;
  readonly swaggerAssets: ReadonlyMap<string, { body: Uint8Array; contentType: string }>;
  readonly playgroundAssets: PlaygroundAssets;
  readonly onInternalError?: (error: unknown, requestId?: string) => void;
}

export interface BodyLimits {
  readonly maxScriptBytes: number;
  readonly maxInputFiles: number;
  readonly maxInputFilesBytes: number;
}

/**
 * Room for JSON escaping around the script and the input files: a script of MAX_SCRIPT_BYTES
 * may at most double when escaped, and so may the files' contents (base64 adds a third), plus
 * each file's path and the other fields. The limits themselves are checked once parsed.
 */
export const maxBodyBytes = (limits: BodyLimits): number =>
  2 * limits.maxScriptBytes + 2 * limits.maxInputFilesBytes + limits.maxInputFiles * 2048 + 64 * 1024;

const requireJson: MiddlewareHandler = async (c, next) => {
  const type = c.req.header("content-type") ?? "";
  const mediaType = type.split(";")[0]?.trim().toLowerCase();
  if (mediaType !== "application/json") {
    return errorResponse("UNSUPPORTED_MEDIA_TYPE", `Content-Type must be application/json, got ${type ? `"${type}"` : "none"}`);
  }
  await next();
};

/** The HTTP face of the service. It never listens; main.ts does. */
export function createApp(deps: AppDeps): OpenAPIHono {
  const { limits } = deps;
  const app = new OpenAPIHono({
    defaultHook: (result) => {
      if (result.success) return;
      const details = result.error.issues.map((issue) => `${issue.path.join(".") || "body"}: ${issue.message}`);
      return errorResponse("INVALID_REQUEST", `Invalid request: ${details.join("; ")}`);
    },
  });

  const { secure } = installOps(app, deps);
  const bodyMax = maxBodyBytes(limits);
  // POST only: another method on /execute is an unknown route (404), not a wrong Content-Type.
  app.on(
    "POST",
    "/execute",
    requireJson,
    bodyLimit({
      maxSize: bodyMax,
      onError: () => errorResponse("PAYLOAD_TOO_LARGE", `The request body is over the limit of ${bodyMax} bytes`),
    }),
    // Read as text first, so the args can be taken from the text the client sent (exactFieldJson).
    async (c, next) => {
      await c.req.text();
      await next();
    },
  );

  app.openapi(secure(executeRoute(limits)), async (c) => {
    const body = c.req.valid("json");
    // The args as the client spelled them, so numbers keep their spelling (exactFieldJson).
    const argsJson = body.args === undefined ? undefined : exactFieldJson(await c.req.text(), "args");
    const request = executionRequestOf(body, limits, argsJson);
    if (!request.ok) return failureResponse(request.error) as never;
    const outcome = await deps.execute(request.value, { requestId: c.get("requestId") });
    return (outcome.ok ? successResponse(outcome.value) : failureResponse(outcome.error)) as never;
  });

  installMcpEndpoint(app, { newServer: runPythonServers({ execute: deps.execute, limits }), maxBodyBytes: bodyMax });

  app.openapi(healthRoute, (c) => c.json(deps.health(), 200));

  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: { title: SERVICE.title, version: SERVICE.version, description: SERVICE.description },
  });

  installPlayground(app, deps.playgroundAssets);
  app.get("/docs", swaggerUI({ url: "/openapi.json", baseUrl: "/docs/assets", title: SERVICE.title, tryItOutEnabled: true }));
  app.get("/docs/assets/swagger-ui-dist/:file", (c) => {
    const asset = deps.swaggerAssets.get(c.req.param("file"));
    if (!asset) return c.notFound();
    return c.body(asset.body as Uint8Array<ArrayBuffer>, 200, { "content-type": asset.contentType, "cache-control": "public, max-age=86400" });
  });

  app.notFound((c) => {
    // A known path asked with another method is a 405 that says which methods it takes.
    const allowed = [...new Set(app.routes.filter((r) => r.path === c.req.path && r.method !== "ALL").map((r) => r.method))];
    if (allowed.length > 0) {
      c.header("Allow", allowed.join(", "));
      return c.json({ error: `${c.req.method} is not allowed on ${c.req.path}; use ${allowed.join(" or ")}`, code: "METHOD_NOT_ALLOWED" }, 405);
    }
    return c.json({ error: `No route for ${c.req.method} ${c.req.path}`, code: "NOT_FOUND" }, 404);
  });
  app.onError((error, c) => {
    if (error instanceof HTTPException && error.status === 400) {
      return errorResponse("INVALID_REQUEST", "The request body is not valid JSON");
    }
    // Hono's JSON validator is stricter about media-type parameters than requireJson ("application/json;").
    if (error instanceof HTTPException && error.status === 415) {
      return errorResponse("UNSUPPORTED_MEDIA_TYPE", `Content-Type must be application/json without malformed parameters, got "${c.req.header("content-type")}"`);
    }
    deps.onInternalError?.(error, c.get("requestId"));
    return errorResponse("INTERNAL", "Internal error");
  });
  return app;
}
