import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { type SessionRequest, sessionNotFound } from "../../domain/sessions.use-case.js";
import { type ExecuteRequestBody, type SessionRequestLimits, sessionRequestSchema } from "../../openapi/schemas.js";
import { type ExecuteLimits, overByteLimits } from "../http/execute.js";
import { createdBody, type SessionsApi } from "../http/sessions.js";
import { refusalResult, toolError, toolResult } from "./tool-result.js";

export const START_SESSION = "start_session";
export const END_SESSION = "end_session";

export interface SessionToolLimits extends SessionRequestLimits, ExecuteLimits {}

const minutes = (ms: number): string => {
  const value = ms / 60_000;
  return Number.isInteger(value) ? `${value} minute${value === 1 ? "" : "s"}` : `${Math.round(ms / 1000)} seconds`;
};

export const SESSION_ID_DESCRIPTION =
  "The id start_session gave: the code runs as a cell in that session, seeing what earlier calls in it left. Leave it out to run in a fresh sandbox.";

const startDescription = (limits: SessionToolLimits): string =>
  [
    "Starts a Python session: an isolated sandbox whose Python keeps its state from one call to the next. Pass the sessionId it",
    "returns to run_python: each call then runs as a notebook cell in the session's one namespace, so variables, imports,",
    "functions and the files in its working directory persist between calls (load the data once, then explore it cell by cell).",
    `A session ends when you end it with end_session, after idleTimeoutMs without a call (default ${minutes(limits.defaultIdleMs)},`,
    `at most ${minutes(limits.maxIdleMs)}), ${minutes(limits.maxAgeMs)} after it started whatever it does, when its code uses more than`,
    "memoryMb (for everything the session holds) or ends the process, and when the service restarts. Code in an ended session fails",
    "with SESSION_NOT_FOUND ('session not found'): start a new session and run again the code that set up its state. Sessions are",
    "few: end yours with end_session when you are done. files are written into the working directory before the first call.",
    "Returns {sessionId, expiresAt, memoryMb, idleTimeoutMs}.",
  ].join(" ");

const END_DESCRIPTION =
  "Ends a session started with start_session: its Python and everything it held (variables, files) are gone, and its sessionId no " +
  "longer works. Ending a session you no longer need frees its place for another.";

const startedSchema = z.object({
  sessionId: z.string().meta({ description: "Pass it to run_python as sessionId to run code in this session, and to end_session to end it" }),
  expiresAt: z
    .string()
    .meta({ description: "When the session ends unless code runs in it before (ISO 8601); each call moves it on, up to the session's maximum age" }),
  memoryMb: z.number().int().meta({ description: "The memory everything the session holds may take" }),
  idleTimeoutMs: z.number().int().meta({ description: "The session ends after this long without a call" }),
});

const endedSchema = z.object({ sessionId: z.string(), ended: z.literal(true) });

const endInputSchema = z.strictObject({
  sessionId: z.string({ error: "sessionId must be a string" }).min(1).meta({ description: "The id start_session gave" }),
});

const jsonResult = (structured: Record<string, unknown>): CallToolResult => ({
  content: [{ type: "text", text: JSON.stringify(structured) }],
  structuredContent: structured,
});

/** start_session and end_session, for the sessions of `owner` (the client's API key). */
export function registerSessionTools(server: McpServer, sessions: SessionsApi, owner: string, limits: SessionToolLimits): void {
  server.registerTool(
    START_SESSION,
    {
      title: "Start a Python session",
      description: startDescription(limits),
      inputSchema: sessionRequestSchema(limits),
      outputSchema: startedSchema,
      annotations: { destructiveHint: false, idempotentHint: false },
    },
    async (body, { signal }) => {
      const call = { script: "", limits, inSession: true };
      const overLimit = overByteLimits({ files: body.files }, limits);
      if (overLimit) return refusalResult(overLimit, call);
      const request: SessionRequest = {
        memoryMb: body.memoryMb ?? limits.maxMemoryMb,
        idleTimeoutMs: body.idleTimeoutMs ?? limits.defaultIdleMs,
        ...(body.files === undefined ? {} : { files: body.files }),
      };
      const created = await sessions.create(owner, request, signal);
      if (!created.ok) return toolError(created.error, call);
      const { id, ...rest } = createdBody(created.value);
      return jsonResult({ sessionId: id, ...rest });
    },
  );
  server.registerTool(
    END_SESSION,
    {
      title: "End a Python session",
      description: END_DESCRIPTION,
      inputSchema: endInputSchema,
      outputSchema: endedSchema,
      annotations: { destructiveHint: true, idempotentHint: true },
    },
    async ({ sessionId }) => {
      if (await sessions.delete(owner, sessionId)) return jsonResult({ sessionId, ended: true });
      return toolError(sessionNotFound(sessionId), { script: "", limits, inSession: true });
    },
  );
}

/**
 * run_python with a sessionId: the script as a cell of the owner's session. args are main()'s and
 * memoryMb the session's (start_session's): a cell takes neither, and a call that gives one is
 * refused, so that nobody believes they were applied.
 */
export async function runCellInSession(
  sessions: SessionsApi,
  owner: string,
  sessionId: string,
  body: ExecuteRequestBody,
  limits: ExecuteLimits,
  signal: AbortSignal,
): Promise<CallToolResult> {
  const call = { script: body.script, limits, inSession: true };
  const ignored = [body.args === undefined ? undefined : "args", body.memoryMb === undefined ? undefined : "memoryMb"].filter((name) => name !== undefined);
  if (ignored.length > 0) {
    const message =
      `Invalid request: ${ignored.join(" and ")} cannot be given with sessionId: code in a session runs as a cell, with no main() to take args, ` +
      "in the memory its session was started with";
    return refusalResult({ code: "INVALID_REQUEST", message }, call);
  }
  const overLimit = overByteLimits({ what: "script", text: body.script, files: body.files }, limits);
  if (overLimit) return refusalResult(overLimit, call);
  const cell = { code: body.script, timeoutMs: body.timeoutMs ?? limits.maxTimeoutMs, ...(body.files === undefined ? {} : { files: body.files }) };
  return toolResult(await sessions.execute(owner, sessionId, cell, signal), call);
}
