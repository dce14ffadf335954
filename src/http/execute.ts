import type { RouteHandler } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { ExecutionRequest } from "../../domain/execution-request.js";
import { inputFilesOverLimit } from "../../domain/input-files.js";
import { err, ok, type Result } from "../../domain/result.js";
import type { ErrorCode } from "../../openapi/error-codes.js";
import type { executeRoute } from "../../openapi/routes.js";
import type { ExecuteRequestBody } from "../../openapi/schemas.js";
import type { Execute } from "../observability/observe-executions.js";
import { exactFieldJson } from "./exact-json.js";
import { errorResponse, failureResponse, successResponse } from "./responses.js";

export interface BodyLimits {
  readonly maxScriptBytes: number;
  readonly maxInputFiles: number;
  readonly maxInputFilesBytes: number;
}

export interface ExecuteLimits extends BodyLimits {
  readonly maxTimeoutMs: number;
  readonly maxMemoryMb: number;
}

/**
 * Room for JSON escaping around the script and the input files: a script of MAX_SCRIPT_BYTES
 * may at most double when escaped, and so may the files' contents (base64 adds a third), plus
 * each file's path and the other fields. The limits themselves are checked once parsed.
 */
export const maxBodyBytes = (limits: BodyLimits): number => 2 * limits.maxScriptBytes + 2 * limits.maxInputFilesBytes + limits.maxInputFiles * 2048 + 64 * 1024;

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

/** Why a body that passed the schema is still refused, before anything runs. */
export interface Refusal {
  readonly code: ErrorCode;
  readonly message: string;
}

/**
 * A request body that passed the schema (POST /execute's, or the arguments of the MCP tool
 * run_python) as the domain's request: the server's limits fill in what the body leaves out.
 * A script or input files over their byte limits are refused here, since the schema counts
 * characters. `argsJson` is the JSON text of `body.args`: as the client spelled it where the
 * caller has that text (1.0 stays a float), else as parsed.
 */
export function executionRequestOf(
  body: ExecuteRequestBody,
  limits: ExecuteLimits,
  argsJson: string | undefined = body.args === undefined ? undefined : JSON.stringify(body.args),
): Result<ExecutionRequest, Refusal> {
  const scriptBytes = Buffer.byteLength(body.script, "utf8");
  if (scriptBytes > limits.maxScriptBytes) {
    return err({ code: "PAYLOAD_TOO_LARGE", message: `The script is ${scriptBytes} bytes, over the limit of ${limits.maxScriptBytes} bytes` });
  }
  const overLimit = body.files && inputFilesOverLimit(body.files, { maxFiles: limits.maxInputFiles, maxBytes: limits.maxInputFilesBytes });
  if (overLimit) return err({ code: "PAYLOAD_TOO_LARGE", message: overLimit });
  return ok({
    script: body.script,
    timeoutMs: body.timeoutMs ?? limits.maxTimeoutMs,
    memoryMb: body.memoryMb ?? limits.maxMemoryMb,
    ...(argsJson === undefined ? {} : { argsJson }),
    ...(body.files === undefined ? {} : { files: body.files }),
  });
}

/**
 * Runs a valid body as executionRequestOf reads it, the args as the client spelled them; the
 * outcome is the response. The run is cancelled if the client closes its connection first.
 */
export function executeHandler(execute: Execute, limits: ExecuteLimits): RouteHandler<ReturnType<typeof executeRoute>> {
  return async (c) => {
    const body = c.req.valid("json");
    const argsJson = body.args === undefined ? undefined : exactFieldJson(await c.req.text(), "args");
    const request = executionRequestOf(body, limits, argsJson);
    if (!request.ok) return errorResponse(request.error.code, request.error.message) as never;
    const outcome = await execute({ ...request.value, signal: c.req.raw.signal }, { requestId: c.get("requestId") });
    return (outcome.ok ? successResponse(outcome.value) : failureResponse(outcome.error)) as never;
  };
}
