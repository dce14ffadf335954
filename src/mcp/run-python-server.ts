import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { executeRequestSchema } from "../../openapi/schemas.js";
import { type ExecuteLimits, executionRequestOf } from "../http/execute.js";
import type { Execute } from "../observability/observe-executions.js";
import { SERVICE } from "../service.js";
import { refusalResult, toolResult } from "./tool-result.js";

const RUN_PYTHON = "run_python";

const DESCRIPTION = [
  "Runs a Python 3 script in a fresh, isolated sandbox and returns what its main() returned, with everything it printed.",
  "The script must define main(); it is called once, after the top-level code, as main(**args) when args is given, and must",
  "return a JSON value (dict, list, str, int, float, bool or None; numpy scalars are converted). numpy, pandas, matplotlib",
  "and the standard library are available. files are written into the working directory before the",
  "script starts; nothing persists between calls.",
  "On success the text is JSON: {result, stdout, stderr, durationMs, files?}, files being those the script created or",
  "changed ({path, size, mediaType, encoding, content}). Every matplotlib figure (open when main() returns, or shown",
  "with plt.show()) follows as an image.",
  "When the script fails the result is a tool error whose text is JSON: {error, code, stdout, stderr, traceback?},",
  "code being e.g. SYNTAX_ERROR, RUNTIME_ERROR, INVALID_ARGS, MAIN_NOT_FOUND, RESULT_NOT_JSON, TIMEOUT or MEMORY_LIMIT_EXCEEDED.",
].join(" ");

export interface RunPythonDeps {
  readonly execute: Execute;
  readonly limits: ExecuteLimits;
}

/**
 * Makes an MCP server with the one tool run_python for each HTTP request: the endpoint is
 * stateless, so every request gets a server of its own, and its runs are logged under that
 * request's id. The tool's input schema is POST /execute's request schema, so a field added
 * there is a tool argument too.
 */
export function runPythonServers(deps: RunPythonDeps): (requestId: string) => McpServer {
  const inputSchema = executeRequestSchema(deps.limits);
  return (requestId) => {
    const server = new McpServer({ name: SERVICE.name, title: SERVICE.title, version: SERVICE.version });
    server.registerTool(
      RUN_PYTHON,
      { title: "Run Python", description: DESCRIPTION, inputSchema, annotations: { destructiveHint: false, idempotentHint: false } },
      async (body, { signal }) => {
        const request = executionRequestOf(body, deps.limits);
        if (!request.ok) return refusalResult(request.error);
        return toolResult(await deps.execute({ ...request.value, signal }, { requestId }));
      },
    );
    return server;
  };
}
