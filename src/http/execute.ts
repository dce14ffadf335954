import type { RouteHandler } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { executeRoute } from "../../openapi/routes.js";
import type { Execute } from "../observability/observe-executions.js";
import { errorResponse, failureResponse, successResponse } from "./responses.js";

export interface ExecuteLimits {
  readonly maxTimeoutMs: number;
  readonly maxMemoryMb: number;
  readonly maxScriptBytes: number;
}

/** Room for JSON escaping around the script: a script of MAX_SCRIPT_BYTES may at most double when escaped, plus the other fields. */
export const maxBodyBytes = (maxScriptBytes: number): number => 2 * maxScriptBytes + 64 * 1024;

const requireJson: MiddlewareHandler = async (c, next) => {
  const type = c.req.header("content-type") ?? "";
  const mediaType = type.split(";")[0]?.trim().toLowerCase();
  if (mediaType !== "application/json") {
    return errorResponse("UNSUPPORTED_MEDIA_TYPE", `Content-Type must be application/json, got ${type ? `"${type}"` : "none"}`);
  }
  await next();
};

/** What POST /execute checks before its body is read: JSON only, and no more bytes than a script of the largest size needs. */
export function executeBodyChecks(maxScriptBytes: number): [MiddlewareHandler, MiddlewareHandler] {
  const maxSize = maxBodyBytes(maxScriptBytes);
  return [requireJson, bodyLimit({ maxSize, onError: () => errorResponse("PAYLOAD_TOO_LARGE", `The request body is over the limit of ${maxSize} bytes`) })];
}

/** Runs a valid body: the script's size in UTF-8 bytes, the server's limits for those the request leaves out, the outcome as the response. */
export function executeHandler(execute: Execute, limits: ExecuteLimits): RouteHandler<ReturnType<typeof executeRoute>> {
  return async (c) => {
    const body = c.req.valid("json");
    const scriptBytes = Buffer.byteLength(body.script, "utf8");
    if (scriptBytes > limits.maxScriptBytes) {
      return errorResponse("PAYLOAD_TOO_LARGE", `The script is ${scriptBytes} bytes, over the limit of ${limits.maxScriptBytes} bytes`) as never;
    }
    const outcome = await execute(
      {
        script: body.script,
        timeoutMs: body.timeoutMs ?? limits.maxTimeoutMs,
        memoryMb: body.memoryMb ?? limits.maxMemoryMb,
      },
      { requestId: c.get("requestId") },
    );
    return (outcome.ok ? successResponse(outcome.value) : failureResponse(outcome.error)) as never;
  };
}
