import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { Artifacts } from "../../domain/artifacts.js";
import type { ExecutionFailure } from "../../domain/execution-result.js";
import type { SandboxOutcome } from "../../domain/sandbox.port.js";
import type { Refusal } from "../http/execute.js";
import { errorBody, failureBody, successBody } from "../http/responses.js";

type Content = CallToolResult["content"][number];

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
 * What run_python gives the model: the JSON POST /execute answers with, as text, and each
 * figure as an image. A run that failed (the script's fault or the service's) is a tool error,
 * `isError: true`, so the model sees the code, the message and the traceback and can fix its
 * script; a protocol error would tell it nothing about the script.
 */
export function toolResult(outcome: SandboxOutcome): CallToolResult {
  if (!outcome.ok) return toolError(outcome.error);
  const { textArtifacts, items } = figureContent(outcome.value.artifacts);
  return { content: [{ type: "text", text: successBody({ ...outcome.value, artifacts: textArtifacts }) }, ...items] };
}

function toolError(failure: ExecutionFailure): CallToolResult {
  const { textArtifacts, items } = figureContent(failure.artifacts);
  return { content: [{ type: "text", text: JSON.stringify(failureBody({ ...failure, artifacts: textArtifacts })) }, ...items], isError: true };
}

/** A request refused before anything ran (over a byte limit): a tool error with the /execute error body. */
export const refusalResult = (refusal: Refusal): CallToolResult => ({
  content: [{ type: "text", text: JSON.stringify(errorBody(refusal.code, refusal.message)) }],
  isError: true,
});
