import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { Artifacts } from "../../domain/artifacts.js";
import type { ExecutionFailure, ExecutionSuccess } from "../../domain/execution-result.js";
import type { SandboxOutcome } from "../../domain/sandbox.port.js";
import type { ExecuteLimits, Refusal } from "../http/execute.js";
import { errorBody, failureBody, successFields, withResult } from "../http/responses.js";
import { fixFor } from "./failure-fix.js";

type Content = CallToolResult["content"][number];

/** What a tool result is made for: the script that ran and the limits the agent may raise. */
export interface ToolCall {
  readonly script: string;
  readonly limits: ExecuteLimits;
  /** The script ran as a cell of a session. */
  readonly inSession?: boolean;
}

/**
 * Figures go to the model as images, each its own content item after the text; the text is
 * the rest of the body, so no figure is sent twice (once as base64 text).
 */
function figureContent(artifacts: Artifacts | undefined): { textArtifacts: Artifacts | undefined; items: Content[] } {
  if (artifacts === undefined) return { textArtifacts: undefined, items: [] };
  const items: Content[] = artifacts.figures.map((figure) => ({ type: "image", data: figure.content, mimeType: figure.mediaType }));
  if (artifacts.figuresTruncated) {
    items.push({ type: "text", text: `Only ${artifacts.figures.length} figure(s) are shown: more were left out (MAX_FIGURES or the response's byte cap).` });
  }
  return { textArtifacts: { ...artifacts, figures: [], figuresTruncated: false }, items };
}

/**
 * What run_python gives the model: the structured result, the same as JSON text (the result as
 * the harness wrote it, so big integers keep every digit there), and each figure as an image.
 * A run that failed (the script's fault or the service's) is a tool error, `isError: true`, so
 * the model sees the code, the message, the traceback and what to fix; a protocol error would
 * tell it nothing about the script.
 */
export function toolResult(outcome: SandboxOutcome, call: ToolCall): CallToolResult {
  if (!outcome.ok) return toolError(outcome.error, call);
  const { textArtifacts, items } = figureContent(outcome.value.artifacts);
  const success: ExecutionSuccess = { ...outcome.value, artifacts: textArtifacts };
  const fields = { resultKind: success.resultKind ?? "json", ...successFields(success) };
  const structured = { result: JSON.parse(success.resultJson), ...fields };
  return { content: [{ type: "text", text: withResult(success.resultJson, fields) }, ...items], structuredContent: structured };
}

/** The error body with, after its code, a sentence on what to change. */
export function errorText(body: ReturnType<typeof errorBody>, fix: string | undefined): string {
  const { error, code, ...rest } = body;
  return JSON.stringify({ error, code, ...(fix === undefined ? {} : { fix }), ...rest });
}

export function toolError(failure: ExecutionFailure, call: ToolCall): CallToolResult {
  const { textArtifacts, items } = figureContent(failure.artifacts);
  const fix = fixFor({ ...failure, script: call.script, inSession: call.inSession }, call.limits);
  return { content: [{ type: "text", text: errorText(failureBody({ ...failure, artifacts: textArtifacts }), fix) }, ...items], isError: true };
}

/** A request refused before anything ran (over a byte limit): a tool error with the error body. */
export const refusalResult = (refusal: Refusal, call: ToolCall): CallToolResult => ({
  content: [{ type: "text", text: errorText(errorBody(refusal.code, refusal.message), fixFor({ ...refusal, script: call.script }, call.limits)) }],
  isError: true,
});
