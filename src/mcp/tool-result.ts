import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { ExecutionFailure } from "../../domain/execution-result.js";
import type { SandboxOutcome } from "../../domain/sandbox.port.js";
import { failureBody, successBody } from "../http/responses.js";

/**
 * What run_python gives the model: the same JSON POST /execute answers with, as text. A run
 * that failed (the script's fault or the service's) is a tool error, `isError: true`, so the
 * model sees the code, the message and the traceback and can fix its script; a protocol error
 * would tell it nothing about the script.
 */
export function toolResult(outcome: SandboxOutcome): CallToolResult {
  if (!outcome.ok) return toolError(outcome.error);
  return { content: [{ type: "text", text: successBody(outcome.value) }] };
}

export const toolError = (failure: ExecutionFailure): CallToolResult => ({
  content: [{ type: "text", text: JSON.stringify(failureBody(failure)) }],
  isError: true,
});
