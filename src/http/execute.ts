import type { RouteHandler } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { MAX_RESULT_DEPTH } from "../../adapters/python/protocol-facts.js";
import type { ExecutionRequest, InputFile } from "../../domain/execution-request.js";
import { inputFilesOverLimit, MAX_INPUT_PATH_BYTES } from "../../domain/input-files.js";
import { err, ok, type Result } from "../../domain/result.js";
import type { ErrorCode } from "../../openapi/error-codes.js";
import type { executeRoute } from "../../openapi/routes.js";
import type { ExecuteRequestBody } from "../../openapi/schemas.js";
import type { Execute } from "../observability/observe-executions.js";
import { exactFieldJson } from "./exact-json.js";
import { nestsDeeperThan } from "./json-depth.js";
import { errorResponse, failureResponse, successResponse } from "./responses.js";
import { runSignal } from "./run-signal.js";

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
 * The most bytes JSON can spend on one byte of a string: a control character, 1 byte in UTF-8,
 * is escaped as \u00XX, 6 bytes. So may any ASCII character be (some encoders escape + as
 * \u002B); é, 2 bytes, is \u00e9 (6), and an astral character, 4, a surrogate pair (12).
 */
const JSON_ESCAPE_FACTOR = 6;

/** Room per input file beyond its escaped path and content: field names, quotes, the encoding, base64's padding, whitespace. */
const FILE_FIELDS_BYTES = 1024;
/** Room for the rest of the body: timeoutMs, memoryMb, args, whitespace. */
const OTHER_FIELDS_BYTES = 64 * 1024;

const base64Length = (bytes: number): number => 4 * Math.ceil(bytes / 3);

/**
 * The most bytes a body may take before it is parsed: enough for a script of MAX_SCRIPT_BYTES
 * and MAX_INPUT_FILES files of the longest paths and MAX_INPUT_FILES_BYTES of contents, however
 * the client spells them. The limits a client reads are those, in UTF-8 and decoded bytes,
 * checked once parsed (executionRequestOf); this refuses unread only what could never pass them.
 * Contents count at the worse of their encodings: base64, 4 characters per 3 bytes, each of them
 * escaped at worst, is longer than utf-8 text escaped at worst.
 */
export const maxBodyBytes = (limits: BodyLimits): number =>
  Math.min(
    MAX_TEXT_BYTES,
    JSON_ESCAPE_FACTOR * limits.maxScriptBytes +
      JSON_ESCAPE_FACTOR * Math.max(limits.maxInputFilesBytes, base64Length(limits.maxInputFilesBytes)) +
      limits.maxInputFiles * (JSON_ESCAPE_FACTOR * MAX_INPUT_PATH_BYTES + FILE_FIELDS_BYTES) +
      OTHER_FIELDS_BYTES,
  );

/** The longest text V8 can hold (2^29 - 24 characters): a body read as text must fit it. */
const MAX_TEXT_BYTES = 2 ** 29 - 24;
/**
 * How deeply a body may nest arrays and objects: the request's own fields and args as deep as a
 * result may be. Deeper is refused before JSON.parse, which would hold gigabytes for it.
 */
const MAX_BODY_DEPTH = MAX_RESULT_DEPTH + 2;

/**
 * Reads the body as text (kept for the handler: the args are taken from the text the client
 * sent, exactFieldJson) and refuses one nested deeper than MAX_BODY_DEPTH before it is parsed.
 */
export const shallowBodies: MiddlewareHandler = async (c, next) => {
  if (nestsDeeperThan(await c.req.text(), MAX_BODY_DEPTH)) {
    return errorResponse("INVALID_REQUEST", `The request body nests arrays and objects more than ${MAX_BODY_DEPTH} levels deep`);
  }
  await next();
};

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
    shallowBodies,
  ];
}

/** Why a body that passed the schema is still refused, before anything runs. */
export interface Refusal {
  readonly code: ErrorCode;
  readonly message: string;
}

/**
 * Why a body's source (`what`: "script", "code") or input files are over the byte limits (the
 * schema counts characters), if they are: POST /execute's, a session's and a cell's, and the MCP tools'.
 */
export function overByteLimits(
  body: { readonly what?: string; readonly text?: string; readonly files?: readonly InputFile[] | undefined },
  limits: BodyLimits,
): Refusal | undefined {
  if (body.text !== undefined) {
    const bytes = Buffer.byteLength(body.text, "utf8");
    if (bytes > limits.maxScriptBytes) {
      return { code: "PAYLOAD_TOO_LARGE", message: `The ${body.what ?? "script"} is ${bytes} bytes, over the limit of ${limits.maxScriptBytes} bytes` };
    }
  }
  const overLimit = body.files && inputFilesOverLimit(body.files, { maxFiles: limits.maxInputFiles, maxBytes: limits.maxInputFilesBytes });
  return overLimit ? { code: "PAYLOAD_TOO_LARGE", message: overLimit } : undefined;
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
  const overLimit = overByteLimits({ what: "script", text: body.script, files: body.files }, limits);
  if (overLimit) return err(overLimit);
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
 * outcome is the response. The run is cancelled if the client closes its connection first (if
 * all of them do, for a run shared by the repeats of an Idempotency-Key).
 */
export function executeHandler(execute: Execute, limits: ExecuteLimits): RouteHandler<ReturnType<typeof executeRoute>> {
  return async (c) => {
    const body = c.req.valid("json");
    const argsJson = body.args === undefined ? undefined : exactFieldJson(await c.req.text(), "args");
    const request = executionRequestOf(body, limits, argsJson);
    if (!request.ok) return errorResponse(request.error.code, request.error.message) as never;
    const outcome = await execute({ ...request.value, signal: runSignal(c) }, { requestId: c.get("requestId") });
    return (outcome.ok ? successResponse(outcome.value) : failureResponse(outcome.error)) as never;
  };
}
