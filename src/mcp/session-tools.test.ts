/**
 * The session tools as an MCP client meets them (the official client, Streamable HTTP, the real
 * app over the real Sessions), with a fake sandbox port: no Python, no socket.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { AdmissionGate } from "../../domain/admission.js";
import { type CapturedOutput, NO_OUTPUT } from "../../domain/captured-output.js";
import { failure } from "../../domain/execution-result.js";
import { err, ok } from "../../domain/result.js";
import { Sessions } from "../../domain/sessions.use-case.js";
import { FakeSessionSandbox } from "../../test/support/fake-session-sandbox.js";
import { type AppDeps, createApp } from "../http/app.js";
import { loadPlaygroundAssets } from "../http/playground.js";
import { loadSwaggerAssets } from "../http/swagger-assets.js";
import { playgroundBundleDir, projectRoot } from "../project-paths.js";

const LIMITS = { maxTimeoutMs: 10_000, maxMemoryMb: 256, maxScriptBytes: 1000, maxInputFiles: 3, maxInputFilesBytes: 1000 };
const OUTPUT: CapturedOutput = { stdout: "loaded\n", stderr: "", stdoutTruncated: false, stderrTruncated: false };
/** Words an agent's tool text should not need: the tools are not HTTP to the model. */
const HTTP_WORDS = /\b(HTTP|POST|GET|DELETE|request body|status code|(a|an|is|with) [45]\d\d|\/sessions)\b/;

let swaggerAssets: AppDeps["swaggerAssets"];
let playgroundAssets: AppDeps["playgroundAssets"];
beforeAll(async () => {
  swaggerAssets = await loadSwaggerAssets();
  playgroundAssets = await loadPlaygroundAssets(playgroundBundleDir(projectRoot()));
});

const clients: Client[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) await client.close();
});

function appWith(options: { apiKeys?: string[]; maxSessions?: number } = {}) {
  const port = new FakeSessionSandbox();
  let ids = 0;
  const maxSessions = options.maxSessions ?? 4;
  const sessions = new Sessions({
    sandbox: port,
    gate: new AdmissionGate({ maxConcurrent: 4, maxQueued: 0, maxWaitMs: 1000 }),
    limits: { maxSessions, maxIdleMs: 3_600_000, maxAgeMs: 3_600_000 },
    retryAfterSeconds: 5,
    newId: () => `session-${++ids}`,
  });
  const executed: string[] = [];
  const app = createApp({
    execute: async (request) => {
      executed.push(request.script);
      return ok({ resultJson: '"fresh"', output: NO_OUTPUT, durationMs: 1 });
    },
    sessions: { api: sessions, maxIdleMs: 3_600_000, maxAgeMs: 3_600_000, maxSessions },
    health: () => ({ status: "ok", backend: "fake", isolation: "none", python: "3.11.2", packages: {} }),
    limits: LIMITS,
    swaggerAssets,
    playgroundAssets,
    ...(options.apiKeys ? { apiKeys: options.apiKeys } : {}),
  });
  return { app, port, executed };
}

type App = ReturnType<typeof appWith>["app"];

/** An MCP client of `app`, sending `key` as its API key. */
async function clientOf(app: App, key?: string): Promise<Client> {
  const client = new Client({ name: "session-tools-test", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL("http://service.test/mcp"), {
    fetch: (url, init) => Promise.resolve(app.request(String(url), init as RequestInit)),
    ...(key === undefined ? {} : { requestInit: { headers: { authorization: `Bearer ${key}` } } }),
  });
  await client.connect(transport);
  clients.push(client);
  return client;
}

const call = async (client: Client, name: string, args: Record<string, unknown>) => (await client.callTool({ name, arguments: args })) as CallToolResult;
const textOf = (result: CallToolResult): string => result.content.map((item) => (item.type === "text" ? item.text : "")).join("\n");
const errorOf = (result: CallToolResult) => {
  expect(result.isError, textOf(result)).toBe(true);
  return JSON.parse(textOf(result)) as Record<string, unknown>;
};

async function started(client: Client, args: Record<string, unknown> = {}): Promise<string> {
  const result = await call(client, "start_session", args);
  expect(result.isError, textOf(result)).toBeFalsy();
  return (result.structuredContent as { sessionId: string }).sessionId;
}

describe("the session tools", () => {
  it("are listed beside run_python, described for a model: state persists, what ends a session, what 'session not found' means", async () => {
    const { tools } = await (await clientOf(appWith().app)).listTools();
    expect(tools.map((tool) => tool.name)).toEqual(["run_python", "start_session", "end_session"]);
    const byName = Object.fromEntries(tools.map((tool) => [tool.name, tool]));
    const start = byName.start_session!.description ?? "";
    expect(start).toMatch(/persist/);
    expect(start).toMatch(/end_session/);
    expect(start).toMatch(/10 minutes/);
    expect(start).toMatch(/SESSION_NOT_FOUND \('session not found'\): start a new session/);
    expect(byName.run_python!.description).toMatch(/sessionId/);
    expect((byName.run_python!.inputSchema as { properties: Record<string, unknown> }).properties).toHaveProperty("sessionId");
    for (const tool of tools) {
      expect(tool.description ?? "", tool.name).not.toMatch(HTTP_WORDS);
      for (const [name, property] of Object.entries((tool.inputSchema.properties ?? {}) as Record<string, { description?: string }>)) {
        expect(property.description ?? "", `${tool.name}.${name}`).not.toMatch(HTTP_WORDS);
      }
      expect(tool.outputSchema, tool.name).toBeDefined();
    }
  });

  it("with MAX_SESSIONS 0 only run_python is offered, without sessionId", async () => {
    const { tools } = await (await clientOf(appWith({ maxSessions: 0 }).app)).listTools();
    expect(tools.map((tool) => tool.name)).toEqual(["run_python"]);
    expect((tools[0]!.inputSchema as { properties: Record<string, unknown> }).properties).not.toHaveProperty("sessionId");
    expect(tools[0]!.description).toMatch(/Nothing persists between calls\./);
  });

  it("start_session, run_python in it (cells in the one session), end_session: structured results like run_python's", async () => {
    const { app, port, executed } = appWith();
    const client = await clientOf(app);
    const start = await call(client, "start_session", { memoryMb: 128, idleTimeoutMs: 60_000, files: [{ path: "a.csv", content: "x\n" }] });
    expect(start.structuredContent).toEqual({ sessionId: "session-1", expiresAt: expect.any(String), memoryMb: 128, idleTimeoutMs: 60_000 });
    expect(JSON.parse(textOf(start))).toEqual(start.structuredContent);
    expect(port.specs).toEqual([{ memoryMb: 128, maxAgeMs: 3_600_000, files: [{ path: "a.csv", content: "x\n", encoding: "utf-8" }] }]);

    port.answer = async () => ({ outcome: ok({ resultJson: "3", output: OUTPUT, durationMs: 2 }), sessionEnded: false });
    const cell = await call(client, "run_python", { sessionId: "session-1", script: "x = 3\nx", timeoutMs: 500 });
    expect(cell.structuredContent).toEqual({
      result: 3,
      resultKind: "json",
      stdout: "loaded\n",
      stderr: "",
      stdoutTruncated: false,
      stderrTruncated: false,
      durationMs: 2,
    });
    expect(port.sessions[0]?.cells).toEqual([{ code: "x = 3\nx", timeoutMs: 500 }]);
    expect(executed).toEqual([]);

    // Without sessionId, run_python runs as before, in a fresh sandbox.
    expect((await call(client, "run_python", { script: "1" })).structuredContent).toMatchObject({ result: "fresh" });
    expect(executed).toEqual(["1"]);

    const end = await call(client, "end_session", { sessionId: "session-1" });
    expect(end.structuredContent).toEqual({ sessionId: "session-1", ended: true });
    expect(port.sessions[0]?.ends).toBe(1);
  });

  it("a session started through MCP with a key is that key's over HTTP too, and not found for another key, either way", async () => {
    const { app } = appWith({ apiKeys: ["key-a", "key-b"] });
    const id = await started(await clientOf(app, "key-a"));
    const view = (key: string) => app.request(`/sessions/${id}`, { headers: { authorization: `Bearer ${key}` } });
    expect((await view("key-a")).status).toBe(200);
    expect((await view("key-b")).status).toBe(404);
    const other = await clientOf(app, "key-b");
    expect(errorOf(await call(other, "run_python", { sessionId: id, script: "1" })).code).toBe("SESSION_NOT_FOUND");
    expect(errorOf(await call(other, "end_session", { sessionId: id })).code).toBe("SESSION_NOT_FOUND");

    // And one started over HTTP is the MCP client's of the same key.
    const response = await app.request("/sessions", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer key-b" },
      body: "{}",
    });
    const { id: httpId } = (await response.json()) as { id: string };
    expect((await call(other, "end_session", { sessionId: httpId })).structuredContent).toEqual({ sessionId: httpId, ended: true });
  });

  it("a session not found is a tool error whose fix says to start a new session and set up its state again", async () => {
    const client = await clientOf(appWith().app);
    const error = errorOf(await call(client, "run_python", { sessionId: "gone", script: "df.head()" }));
    expect(error).toMatchObject({
      code: "SESSION_NOT_FOUND",
      fix: expect.stringMatching(/^Start a new session with start_session and run again the code that set up its state/),
    });
  });

  it("a failure that ended the session says sessionEnded and that the state is gone", async () => {
    const { app, port } = appWith();
    const client = await clientOf(app);
    const id = await started(client);
    port.answer = async () => ({ outcome: err(failure("MEMORY_LIMIT_EXCEEDED", "Memory limit exceeded (256 MB)", OUTPUT)), sessionEnded: true });
    const error = errorOf(await call(client, "run_python", { sessionId: id, script: "x = bytearray(10**10)" }));
    expect(error).toMatchObject({ code: "MEMORY_LIMIT_EXCEEDED", sessionEnded: true, stdout: "loaded\n" });
    expect(error.fix).toMatch(/start it with a larger memoryMb/);
    expect(error.fix).toMatch(/The session has ended and everything it held is gone: start a new one with start_session/);
  });

  it("args or memoryMb with sessionId are refused, naming them; nothing runs", async () => {
    const { app, port } = appWith();
    const client = await clientOf(app);
    const id = await started(client);
    const error = errorOf(await call(client, "run_python", { sessionId: id, script: "1", args: { a: 1 }, memoryMb: 64 }));
    expect(error).toMatchObject({
      code: "INVALID_REQUEST",
      error: expect.stringMatching(/^Invalid request: args and memoryMb cannot be given with sessionId/),
    });
    expect(port.sessions[0]?.cells).toEqual([]);
  });

  it("SESSION_LIMIT: a tool error saying to end a session or run without one", async () => {
    const client = await clientOf(appWith({ maxSessions: 1 }).app);
    await started(client);
    const error = errorOf(await call(client, "start_session", {}));
    expect(error).toMatchObject({ code: "SESSION_LIMIT", fix: expect.stringMatching(/end_session.*without sessionId.*in 5 s/) });
  });

  it("start_session's arguments are checked as the session's fields are: an unknown one is named with the one meant", async () => {
    const client = await clientOf(appWith().app);
    const result = await call(client, "start_session", { idleTimeout: 1000 });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain("unknown field `idleTimeout`; did you mean `idleTimeoutMs`?");
  });
});
