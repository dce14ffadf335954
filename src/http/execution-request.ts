import type { ExecutionRequest } from "../../domain/execution-request.js";
import { inputFilesOverLimit } from "../../domain/input-files.js";
import { err, ok, type Result } from "../../domain/result.js";
import type { ExecuteRequestBody } from "../../openapi/schemas.js";

export interface BodyLimits {
  readonly maxScriptBytes: number;
  readonly maxInputFiles: number;
  readonly maxInputFilesBytes: number;
}

export interface ExecuteLimits extends BodyLimits {
  readonly maxTimeoutMs: number;
  readonly maxMemoryMb: number;
}

/** A body the schema let through but a byte limit refuses (the schema counts characters). */
export interface Refusal {
  readonly code: "PAYLOAD_TOO_LARGE";
  readonly message: string;
}

/**
 * A request body that passed the schema (POST /execute's, or the arguments of the MCP tool
 * run_python) as the domain's request: the server's limits fill in what the body leaves out.
 * A script or input files over their byte limits are refused here, since the schema counts
 * characters. `argsJson` is the JSON text of `body.args`: as the client spelled it where the
 * caller has that text, else as parsed.
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
