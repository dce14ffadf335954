import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import { MAX_RESULT_REPR_CHARS } from "../../adapters/python/protocol-facts.js";
import { executeRequestSchema } from "../../openapi/schemas.js";
import { type ExecuteLimits, executionRequestOf } from "../http/execute.js";
import type { SessionsApi } from "../http/sessions.js";
import type { Execute } from "../observability/observe-executions.js";
import { SERVICE } from "../service.js";
import { runPythonOutputSchema } from "./run-python-output.js";
import { registerSessionTools, runCellInSession, SESSION_ID_DESCRIPTION, type SessionToolLimits } from "./session-tools.js";
import { refusalResult, toolResult } from "./tool-result.js";

const RUN_PYTHON = "run_python";

/** What run_python says of sessions when the server keeps them. */
const SESSION_SENTENCES = [
  "With sessionId (from start_session) the code runs as a cell in that session instead: it sees the variables, imports,",
  "functions and files that earlier calls in the session left, and what it defines stays for the next call; main() is not",
  "called and args and memoryMb are not taken. A failure that ended the session has sessionEnded: true.",
];

const description = (withSessions: boolean): string =>
  [
    "Runs Python 3 code in a fresh, isolated sandbox, as a notebook cell or as a script with a main() function, and returns its",
    `result with everything it printed. Nothing persists between calls${withSessions ? " without sessionId" : ""}.`,
    ...DESCRIPTION_REST,
    ...(withSessions ? SESSION_SENTENCES : []),
  ].join(" ");

const DESCRIPTION_REST = [
  "A cell (no main): the code runs top to bottom and its result is the value of its last line when that is an expression, as",
  "in a notebook; a cell ending in a statement (an assignment, a loop, an import, a def) or in an expression followed by ';'",
  "has none (null). A script that defines main() and does not call it itself: main() is called once, after the top-level code, as main(**args) when args",
  "is given, and its return value is the result; only main() takes args.",
  "A value that is JSON (dict, list, str, int, float, bool or None; numpy scalars are converted) is the result itself. A",
  `cell's value that is not (a DataFrame, an array, a set, NaN, ...) comes back as its repr(), a string cut at`,
  `${MAX_RESULT_REPR_CHARS} characters, with resultKind "repr" instead of "json"; main() must return JSON.`,
  "numpy, pandas, matplotlib and the standard library are available; files are written into the working directory",
  "before the code starts.",
  "The result: {result, resultKind, stdout, stderr, stdoutTruncated, stderrTruncated, durationMs, files?, filesTruncated?},",
  "files being those the code created or changed ({path, size, mediaType, encoding, content}). Every matplotlib figure",
  "(open at the end, or shown with plt.show()) follows as an image.",
  "When the code fails the result is a tool error whose text is JSON: {error, code, fix, stdout, stderr, traceback?}, fix",
  "saying what to change; code is e.g. SYNTAX_ERROR, RUNTIME_ERROR, RESULT_NOT_JSON, INVALID_ARGS, TIMEOUT or MEMORY_LIMIT_EXCEEDED.",
];

const SCRIPT_DESCRIPTION =
  "Python source: a notebook cell, whose result is the value of its last expression, or a script defining main(), whose result is what main() returns";

export interface RunPythonDeps {
  readonly execute: Execute;
  readonly limits: ExecuteLimits;
  /** Offers the session tools, and run_python's sessionId, when given. */
  readonly sessions?: { readonly api: SessionsApi; readonly limits: SessionToolLimits };
}

/**
 * Makes an MCP server with the tool run_python for each HTTP request, and with sessions the
 * tools start_session and end_session: the endpoint is stateless, so every request gets a
 * server of its own, its runs logged under that request's id and its sessions those of the
 * request's owner (its API key). run_python's input schema is POST /execute's request schema
 * (so a field added there is a tool argument too), but its script may be a cell: the tool runs
 * it "main-or-cell", or as a cell of the session sessionId names.
 */
export function runPythonServers(deps: RunPythonDeps): (requestId: string, owner: string) => McpServer {
  const requestSchema = executeRequestSchema(deps.limits);
  const withScript = requestSchema.extend({ script: requestSchema.shape.script.meta({ description: SCRIPT_DESCRIPTION }) });
  const sessions = deps.sessions;
  const inputSchema = sessions
    ? withScript.extend({ sessionId: z.string({ error: "sessionId must be a string" }).min(1).optional().meta({ description: SESSION_ID_DESCRIPTION }) })
    : withScript;
  return (requestId, owner) => {
    const server = new McpServer({ name: SERVICE.name, title: SERVICE.title, version: SERVICE.version });
    server.registerTool(
      RUN_PYTHON,
      {
        title: "Run Python",
        description: description(sessions !== undefined),
        inputSchema,
        outputSchema: runPythonOutputSchema,
        annotations: { destructiveHint: false, idempotentHint: false },
      },
      async (body, { signal }) => {
        const call = { script: body.script, limits: deps.limits };
        const sessionId = "sessionId" in body ? body.sessionId : undefined;
        if (sessions && typeof sessionId === "string") return runCellInSession(sessions.api, owner, sessionId, body, deps.limits, signal);
        const request = executionRequestOf(body, deps.limits);
        if (!request.ok) return refusalResult(request.error, call);
        return toolResult(await deps.execute({ ...request.value, entry: "main-or-cell", signal }, { requestId }), call);
      },
    );
    if (sessions) registerSessionTools(server, sessions.api, owner, sessions.limits);
    // The list is the same for the server's whole life: no client need listen for changes to it.
    server.server.registerCapabilities({ tools: { listChanged: false } });
    return server;
  };
}
