import type { RouteHandler } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { executeRoute } from "../../openapi/routes.js";
import type { Execute } from "../observability/observe-executions.js";
import { exactFieldJson } from "./exact-json.js";
import { type BodyLimits, type ExecuteLimits, executionRequestOf } from "./execution-request.js";
import { errorResponse, failureResponse, successResponse } from "./responses.js";

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

/** What POST /execute checks before its body is read: JSON only, and no more bytes than the largest script and input files need. */
export function executeBodyChecks(limits: BodyLimits): [MiddlewareHandler, MiddlewareHandler, MiddlewareHandler] {
  const maxSize = maxBodyBytes(limits);
  return [
    requireJson,
    bodyLimit({ maxSize, onError: () => errorResponse("PAYLOAD_TOO_LARGE", `The request body is over the limit of ${maxSize} bytes`) }),
    // Read as text first, so the args can be taken from the text the client sent (exactFieldJson).
    async (c, next) => {
      await c.req.text();
      await next();
    },
  ];
}

/** Runs a valid body: the server's limits for what the request leaves out, the outcome as the response. */
export function executeHandler(execute: Execute, limits: ExecuteLimits): RouteHandler<ReturnType<typeof executeRoute>> {
  return async (c) => {
    const body = c.req.valid("json");
    // The args as the client spelled them, so numbers keep their spelling (exactFieldJson).
    const argsJson = body.args === undefined ? undefined : exactFieldJson(await c.req.text(), "args");
    const request = executionRequestOf(body, limits, argsJson);
    if (!request.ok) return errorResponse(request.error.code, request.error.message) as never;
    const outcome = await execute(request.value, { requestId: c.get("requestId") });
    return (outcome.ok ? successResponse(outcome.value) : failureResponse(outcome.error)) as never;
  };
}
