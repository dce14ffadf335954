import type { Artifacts } from "../../domain/artifacts.js";
import type { CapturedOutput } from "../../domain/captured-output.js";
import { NO_OUTPUT } from "../../domain/captured-output.js";
import type { ExecutionFailure, ExecutionSuccess } from "../../domain/execution-result.js";
import type { ErrorCode } from "../../openapi/error-codes.js";
import type { ErrorBody } from "../../openapi/schemas.js";
import { STATUS_BY_CODE } from "../../openapi/status-by-code.js";

const JSON_HEADERS = { "content-type": "application/json; charset=utf-8" };

const outputFields = (output: CapturedOutput) => ({
  stdout: output.stdout,
  stderr: output.stderr,
  stdoutTruncated: output.stdoutTruncated,
  stderrTruncated: output.stderrTruncated,
});

/** The run's files and figures: each list (with its flag) only when there is something to say. */
const artifactFields = (artifacts: Artifacts | undefined) => {
  if (artifacts === undefined) return {};
  const { files, filesTruncated, figures, figuresTruncated } = artifacts;
  return {
    ...(files.length > 0 || filesTruncated ? { files, filesTruncated } : {}),
    ...(figures.length > 0 || figuresTruncated ? { figures, figuresTruncated } : {}),
  };
};

/** A success's fields beside its result and its kind. */
export const successFields = (success: ExecutionSuccess) => ({
  ...outputFields(success.output),
  durationMs: success.durationMs,
  ...artifactFields(success.artifacts),
});

/**
 * The JSON text of an object whose first member is the result, then `fields`. The result is
 * spliced in as the harness wrote it, never re-serialized, so big integers and float spellings
 * reach the client exactly.
 */
export const withResult = (resultJson: string, fields: object): string => `{"result":${resultJson},${JSON.stringify(fields).slice(1)}`;

/** The JSON text of a success; resultKind only for a cell's value that is not JSON (its repr), never for main()'s. */
export const successBody = (success: ExecutionSuccess): string =>
  withResult(success.resultJson, { ...(success.resultKind === "repr" ? { resultKind: "repr" } : {}), ...successFields(success) });

export const successResponse = (success: ExecutionSuccess): Response => new Response(successBody(success), { status: 200, headers: JSON_HEADERS });

/** The error body of a failed execution, with what the script printed before it failed. */
export function failureBody(failure: ExecutionFailure): ErrorBody {
  const body = {
    error: failure.message,
    code: failure.code,
    ...outputFields(failure.output),
    ...(failure.traceback === undefined ? {} : { traceback: failure.traceback }),
    ...(failure.durationMs === undefined ? {} : { durationMs: failure.durationMs }),
    ...artifactFields(failure.artifacts),
    ...(failure.sessionEnded ? { sessionEnded: true } : {}),
  };
  // The schema's arrays are mutable, the domain's are not: the shapes are the same.
  return body as ErrorBody;
}

export const failureResponse = (failure: ExecutionFailure): Response => errorBodyResponse(failureBody(failure), failure.retryAfterSeconds);

/** The body of an error answered before anything ran (or by a bug): no output. */
export const errorBody = (code: ErrorCode, message: string): ErrorBody => ({ error: message, code, ...outputFields(NO_OUTPUT) });

export const errorResponse = (code: ErrorCode, message: string): Response => errorBodyResponse(errorBody(code, message));

function errorBodyResponse(body: ErrorBody, retryAfterSeconds?: number): Response {
  const headers: Record<string, string> = { ...JSON_HEADERS };
  if (retryAfterSeconds !== undefined) headers["retry-after"] = String(retryAfterSeconds);
  return new Response(JSON.stringify(body), { status: STATUS_BY_CODE[body.code], headers });
}
