import { NO_OUTPUT } from "../../domain/captured-output.js";
import type { ExecutionRequest } from "../../domain/execution-request.js";
import { failure, type ExecutionFailure } from "../../domain/execution-result.js";
import { err, ok, type Result } from "../../domain/result.js";
import type { ExecuteRequestBody } from "../../openapi/schemas.js";

export interface ServerLimits {
  readonly maxTimeoutMs: number;
  readonly maxMemoryMb: number;
  readonly maxScriptBytes: number;
}

/**
 * A request body that passed the schema (POST /execute's, or the arguments of the MCP tool
 * run_python) as the domain's request: the server's limits fill in what the body leaves out.
 * A script over the byte limit is refused here, since the schema counts characters.
 */
export function executionRequestOf(body: ExecuteRequestBody, limits: ServerLimits): Result<ExecutionRequest, ExecutionFailure> {
  const scriptBytes = Buffer.byteLength(body.script, "utf8");
  if (scriptBytes > limits.maxScriptBytes) {
    return err(failure("PAYLOAD_TOO_LARGE", `The script is ${scriptBytes} bytes, over the limit of ${limits.maxScriptBytes} bytes`, NO_OUTPUT));
  }
  return ok({
    script: body.script,
    timeoutMs: body.timeoutMs ?? limits.maxTimeoutMs,
    memoryMb: body.memoryMb ?? limits.maxMemoryMb,
  });
}
