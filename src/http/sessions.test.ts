import { beforeAll, describe, expect, it } from "vitest";
import { AdmissionGate } from "../../domain/admission.js";
import { type CapturedOutput, NO_OUTPUT } from "../../domain/captured-output.js";
import { MIN_MEMORY_MB } from "../../domain/execution-request.js";
import { failure } from "../../domain/execution-result.js";
import { err, ok } from "../../domain/result.js";
import type { CellOutcome } from "../../domain/session.port.js";
import { Sessions } from "../../domain/sessions.use-case.js";
import type { ErrorCode } from "../../openapi/error-codes.js";
import { ERROR_EXAMPLES } from "../../openapi/error-examples.js";
import { STATUS_BY_CODE } from "../../openapi/status-by-code.js";
import { FakeSessionSandbox } from "../../test/support/fake-session-sandbox.js";
import { playgroundBundleDir, projectRoot } from "../project-paths.js";
import { type AppDeps, createApp } from "./app.js";
import { maxBodyBytes } from "./execute.js";
import { IdempotencyStore } from "./idempotency-store.js";
import { loadPlaygroundAssets } from "./playground.js";
import { loadSwaggerAssets } from "./swagger-assets.js";

const LIMITS = { maxTimeoutMs: 10_000, maxMemoryMb: 256, maxScriptBytes: 1000, maxInputFiles: 3, maxInputFilesBytes: 1000 };
const MAX_IDLE_MS = 3_600_000;
const MAX_AGE_MS = 7_200_000;
const OUTPUT: CapturedOutput = { stdout: "printed\n", stderr: "", stdoutTruncated: false, stderrTruncated: false };

let swaggerAssets: AppDeps["swaggerAssets"];
let playgroundAssets: AppDeps["playgroundAssets"];
beforeAll(async () => {
  swaggerAssets = await loadSwaggerAssets();
  playgroundAssets = await loadPlaygroundAssets(playgroundBundleDir(projectRoot()));
});

/** The app with the real Sessions over a fake sandbox port: no sandbox, no Python, no socket. */
function appWith(options: { apiKeys?: string[]; maxSessions?: number; maxConcurrent?: number; maxIdleMs?: number; idempotency?: IdempotencyStore } = {}) {
  const port = new FakeSessionSandbox();
  let ids = 0;
  const sessions = new Sessions({
    sandbox: port,
    gate: new AdmissionGate({ maxConcurrent: options.maxConcurrent ?? 4, maxQueued: 0, maxWaitMs: 1000 }),
    limits: { maxSessions: options.maxSessions ?? 4, maxIdleMs: options.maxIdleMs ?? MAX_IDLE_MS, maxAgeMs: MAX_AGE_MS },
    retryAfterSeconds: 5,
    newId: () => `session-${++ids}`,
  });
  const app = createApp({
    execute: async () => ok({ resultJson: "null", output: NO_OUTPUT, durationMs: 1 }),
    sessions: { api: sessions, maxIdleMs: options.maxIdleMs ?? MAX_IDLE_MS, maxAgeMs: MAX_AGE_MS, maxSessions: options.maxSessions ?? 4 },
    health: () => ({ status: "ok", backend: "fake", isolation: "none", python: "3.11.2", packages: {} }),
    limits: LIMITS,
    swaggerAssets,
    playgroundAssets,
    ...(options.apiKeys ? { apiKeys: options.apiKeys } : {}),
    ...(options.idempotency ? { idempotency: options.idempotency } : {}),
  });
  return { app, port, sessions };
}

type App = ReturnType<typeof appWith>["app"];

const JSON_TYPE = { "content-type": "application/json" };
const bearer = (key: string | undefined): Record<string, string> => (key === undefined ? {} : { authorization: `Bearer ${key}` });

const open = (app: App, body: unknown = {}, key?: string, headers: Record<string, string> = {}) =>
  app.request("/sessions", { method: "POST", headers: { ...JSON_TYPE, ...bearer(key), ...headers }, body: JSON.stringify(body) });
const run = (app: App, id: string, body: unknown, key?: string, headers: Record<string, string> = {}) =>
  app.request(`/sessions/${id}/execute`, { method: "POST", headers: { ...JSON_TYPE, ...bearer(key), ...headers }, body: JSON.stringify(body) });
const view = (app: App, id: string, key?: string) => app.request(`/sessions/${id}`, { headers: bearer(key) });
const remove = (app: App, id: string, key?: string) => app.request(`/sessions/${id}`, { method: "DELETE", headers: bearer(key) });

async function openedId(app: App, key?: string): Promise<string> {
  const response = await open(app, {}, key);
  expect(response.status).toBe(201);
  return ((await response.json()) as { id: string }).id;
}

async function errorOf(response: Response, status: number, code: ErrorCode) {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toMatch(/^application\/json/);
  const body = (await response.json()) as Record<string, unknown>;
  expect(body).toMatchObject({ code, stdout: expect.any(String), stderr: expect.any(String) });
  return body;
}

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe("POST /sessions", () => {
  it("201: the id, when it expires (ISO 8601), its memory and idle timeout, with the defaults; Location names it", async () => {
    const { app, port } = appWith();
    const before = Date.now();
    const response = await open(app);
    expect(response.status).toBe(201);
    expect(response.headers.get("location")).toBe("/sessions/session-1");
    const body = (await response.json()) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(["id", "expiresAt", "memoryMb", "idleTimeoutMs"]);
    expect(body).toMatchObject({ id: "session-1", expiresAt: expect.stringMatching(ISO), memoryMb: LIMITS.maxMemoryMb, idleTimeoutMs: 600_000 });
    expect(Date.parse(body.expiresAt as string)).toBeGreaterThanOrEqual(before + 600_000);
    expect(port.specs).toEqual([{ memoryMb: LIMITS.maxMemoryMb, maxAgeMs: MAX_AGE_MS, files: undefined }]);
  });

  it("the default idle timeout is SESSION_MAX_IDLE_MS when that is under 10 minutes", async () => {
    const response = await open(appWith({ maxIdleMs: 60_000 }).app);
    expect(await response.json()).toMatchObject({ idleTimeoutMs: 60_000 });
  });

  it("takes memoryMb, idleTimeoutMs and files (utf-8 by default) as asked", async () => {
    const { app, port } = appWith();
    const response = await open(app, { memoryMb: 128, idleTimeoutMs: 5000, files: [{ path: "data/a.csv", content: "x\n" }] });
    expect(await response.json()).toMatchObject({ memoryMb: 128, idleTimeoutMs: 5000 });
    expect(port.specs).toEqual([{ memoryMb: 128, maxAgeMs: MAX_AGE_MS, files: [{ path: "data/a.csv", content: "x\n", encoding: "utf-8" }] }]);
  });

  it.each<[string, unknown, string]>([
    ["an unknown field, with the closest known one", { idleTimeout: 5000 }, "Invalid request: unknown field `idleTimeout`; did you mean `idleTimeoutMs`?"],
    ["an idle timeout past SESSION_MAX_IDLE_MS", { idleTimeoutMs: MAX_IDLE_MS + 1 }, `Invalid request: idleTimeoutMs must be at most ${MAX_IDLE_MS}`],
    ["an idle timeout under a second", { idleTimeoutMs: 999 }, "Invalid request: idleTimeoutMs must be at least 1000"],
    ["memory over MEMORY_LIMIT_MB", { memoryMb: LIMITS.maxMemoryMb + 1 }, `Invalid request: memoryMb must be at most ${LIMITS.maxMemoryMb}`],
    ["memory under the least", { memoryMb: MIN_MEMORY_MB - 1 }, `Invalid request: memoryMb must be at least ${MIN_MEMORY_MB}`],
    ["a fraction", { memoryMb: 100.5 }, "Invalid request: memoryMb must be a whole number of megabytes, not 100.5"],
    ["a path out of the work dir, as /execute says it", { files: [{ path: "../x", content: "" }] }, "Invalid request: files[0].path"],
    ["not an object", [], "Invalid request: the request must be a JSON object, not an array"],
  ])("400 INVALID_REQUEST for %s", async (_, body, message) => {
    const { app, port } = appWith();
    const error = await errorOf(await open(app, body), 400, "INVALID_REQUEST");
    expect(error.error).toContain(message);
    expect(port.specs).toEqual([]);
  });

  it("the files' checks are /execute's: the same message for the same files", async () => {
    const { app } = appWith();
    const files = [
      { path: "a", content: "x" },
      { path: "a", content: "y" },
    ];
    const fromSession = await errorOf(await open(app, { files }), 400, "INVALID_REQUEST");
    const execute = await app.request("/execute", { method: "POST", headers: JSON_TYPE, body: JSON.stringify({ script: "x", files }) });
    expect(fromSession.error).toBe(((await execute.json()) as { error: string }).error);
  });

  it("413 for files over MAX_INPUT_FILES_BYTES once decoded, and for a body over /execute's cap", async () => {
    const { app } = appWith();
    const big = await errorOf(await open(app, { files: [{ path: "a", content: "x".repeat(LIMITS.maxInputFilesBytes + 1) }] }), 413, "PAYLOAD_TOO_LARGE");
    expect(big.error).toContain(String(LIMITS.maxInputFilesBytes));
    const huge = await errorOf(await open(app, { files: [{ path: "a", content: "x".repeat(maxBodyBytes(LIMITS)) }] }), 413, "PAYLOAD_TOO_LARGE");
    expect(huge.error).toBe(`The request body is over the limit of ${maxBodyBytes(LIMITS)} bytes`);
  });

  it("415 for a body that is not JSON", async () => {
    const { app } = appWith();
    await errorOf(await app.request("/sessions", { method: "POST", headers: { "content-type": "text/plain" }, body: "{}" }), 415, "UNSUPPORTED_MEDIA_TYPE");
  });

  it("429 SESSION_LIMIT with Retry-After once MAX_SESSIONS are open", async () => {
    const { app } = appWith({ maxSessions: 1 });
    await openedId(app);
    const response = await open(app);
    expect(response.headers.get("retry-after")).toBe("5");
    expect((await errorOf(response, 429, "SESSION_LIMIT")).error).toContain("All 1 sessions");
  });

  it("429 BUSY with Retry-After when no sandbox is free to start it", async () => {
    const response = await open(appWith({ maxConcurrent: 0 }).app);
    expect(response.headers.get("retry-after")).toBe("5");
    await errorOf(response, 429, "BUSY");
  });
});

describe("POST /sessions/{id}/execute", () => {
  it("200: /execute's success body, the result spliced in as the sandbox wrote it", async () => {
    const { app, port } = appWith();
    const id = await openedId(app);
    port.answer = async () => ({ outcome: ok({ resultJson: "18446744073709551616", output: OUTPUT, durationMs: 7 }), sessionEnded: false });
    const response = await run(app, id, { code: "2**64" });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe(
      '{"result":18446744073709551616,"stdout":"printed\\n","stderr":"","stdoutTruncated":false,"stderrTruncated":false,"durationMs":7}',
    );
    expect(port.sessions[0]?.cells).toEqual([{ code: "2**64", timeoutMs: LIMITS.maxTimeoutMs }]);
  });

  it('a value that is not JSON comes with resultKind "repr" after the result', async () => {
    const { app, port } = appWith();
    const id = await openedId(app);
    port.answer = async () => ({ outcome: ok({ resultJson: '"{1, 2}"', resultKind: "repr", output: NO_OUTPUT, durationMs: 1 }), sessionEnded: false });
    expect(await (await run(app, id, { code: "{1, 2}" })).text()).toMatch(/^\{"result":"\{1, 2\}","resultKind":"repr","stdout":""/);
  });

  it("passes timeoutMs and files (utf-8 by default) to the cell", async () => {
    const { app, port } = appWith();
    const id = await openedId(app);
    await run(app, id, { code: "x", timeoutMs: 500, files: [{ path: "in.txt", content: "hi" }] });
    expect(port.sessions[0]?.cells).toEqual([{ code: "x", timeoutMs: 500, files: [{ path: "in.txt", content: "hi", encoding: "utf-8" }] }]);
  });

  it("a failure is /execute's error body, with sessionEnded: true when the cell ended its session; then 404", async () => {
    const { app, port } = appWith();
    const id = await openedId(app);
    const oom = failure("MEMORY_LIMIT_EXCEEDED", "Memory limit exceeded (256 MB)", OUTPUT, { durationMs: 30 });
    port.answer = async () => ({ outcome: err(oom), sessionEnded: true });
    const body = await errorOf(await run(app, id, { code: "x = bytearray(10**10)" }), 400, "MEMORY_LIMIT_EXCEEDED");
    expect(body).toEqual({
      error: "Memory limit exceeded (256 MB)",
      code: "MEMORY_LIMIT_EXCEEDED",
      stdout: "printed\n",
      stderr: "",
      stdoutTruncated: false,
      stderrTruncated: false,
      durationMs: 30,
      sessionEnded: true,
    });
    await errorOf(await run(app, id, { code: "1" }), 404, "SESSION_NOT_FOUND");
  });

  it("a failure that leaves the session alive has no sessionEnded, and a TIMEOUT is 408", async () => {
    const { app, port } = appWith();
    const id = await openedId(app);
    port.answer = async () => ({ outcome: err(failure("TIMEOUT", "interrupted", OUTPUT)), sessionEnded: false });
    expect(await errorOf(await run(app, id, { code: "while True: pass" }), 408, "TIMEOUT")).not.toHaveProperty("sessionEnded");
    expect((await view(app, id)).status).toBe(200);
  });

  it("404 SESSION_NOT_FOUND for an unknown id, naming it", async () => {
    const body = await errorOf(await run(appWith().app, "nope", { code: "1" }), 404, "SESSION_NOT_FOUND");
    expect(body.error).toMatch(/^No session "nope": .*start a new one$/);
  });

  it("409 SESSION_BUSY while a cell runs in the session, without Retry-After", async () => {
    const { app, port } = appWith();
    const id = await openedId(app);
    const { promise, resolve } = Promise.withResolvers<CellOutcome>();
    port.answer = () => promise;
    const first = run(app, id, { code: "slow()" });
    await expect.poll(() => port.sessions[0]?.cells.length).toBe(1);
    const busy = await run(app, id, { code: "1" });
    expect(busy.headers.get("retry-after")).toBeNull();
    await errorOf(busy, 409, "SESSION_BUSY");
    resolve({ outcome: ok({ resultJson: "1", output: NO_OUTPUT, durationMs: 1 }), sessionEnded: false });
    expect((await first).status).toBe(200);
  });

  it.each<[string, unknown, string]>([
    ["a script (the field is code)", { script: "1" }, "Invalid request: code is required; unknown field `script`; did you mean `code`?"],
    ["an empty cell", { code: "" }, "Invalid request: code must not be empty"],
    [
      "a timeout past EXECUTION_TIMEOUT_MS",
      { code: "1", timeoutMs: LIMITS.maxTimeoutMs + 1 },
      `Invalid request: timeoutMs must be at most ${LIMITS.maxTimeoutMs}`,
    ],
    ["args (a cell has none)", { code: "1", args: {} }, "Invalid request: unknown field `args`"],
  ])("400 INVALID_REQUEST for %s", async (_, body, message) => {
    const { app, port } = appWith();
    const id = await openedId(app);
    expect((await errorOf(await run(app, id, body), 400, "INVALID_REQUEST")).error).toBe(message);
    expect(port.sessions[0]?.cells).toEqual([]);
  });

  it("413 for code over MAX_SCRIPT_BYTES, counted in UTF-8 bytes", async () => {
    const { app } = appWith();
    const id = await openedId(app);
    const body = await errorOf(await run(app, id, { code: "é".repeat(501) }), 413, "PAYLOAD_TOO_LARGE");
    expect(body.error).toBe(`The code is 1002 bytes, over the limit of ${LIMITS.maxScriptBytes} bytes`);
  });
});

describe("GET /sessions/{id}", () => {
  it("200: its times (ISO 8601), memory, idle timeout and cells run", async () => {
    const { app } = appWith();
    const id = await openedId(app);
    await run(app, id, { code: "1" });
    const response = await view(app, id);
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(["id", "createdAt", "lastUsedAt", "expiresAt", "memoryMb", "idleTimeoutMs", "cells"]);
    expect(body).toMatchObject({
      id,
      createdAt: expect.stringMatching(ISO),
      lastUsedAt: expect.stringMatching(ISO),
      expiresAt: expect.stringMatching(ISO),
      memoryMb: LIMITS.maxMemoryMb,
      idleTimeoutMs: 600_000,
      cells: 1,
    });
  });

  it("404 SESSION_NOT_FOUND for an unknown id", async () => {
    await errorOf(await view(appWith().app, "nope"), 404, "SESSION_NOT_FOUND");
  });
});

describe("DELETE /sessions/{id}", () => {
  it("204 with no body; the session's sandbox is ended, and the id is 404 from then on", async () => {
    const { app, port } = appWith();
    const id = await openedId(app);
    const response = await remove(app, id);
    expect(response.status).toBe(204);
    expect(await response.text()).toBe("");
    expect(port.sessions[0]?.ends).toBe(1);
    await errorOf(await view(app, id), 404, "SESSION_NOT_FOUND");
    await errorOf(await remove(app, id), 404, "SESSION_NOT_FOUND");
  });
});

describe("owners", () => {
  it("with API_KEYS a session is its key's: another key gets 404 (never 403) for every operation, and nothing runs", async () => {
    const { app, port } = appWith({ apiKeys: ["key-a", "key-b"] });
    const id = await openedId(app, "key-a");
    await errorOf(await view(app, id, "key-b"), 404, "SESSION_NOT_FOUND");
    await errorOf(await run(app, id, { code: "1" }, "key-b"), 404, "SESSION_NOT_FOUND");
    await errorOf(await remove(app, id, "key-b"), 404, "SESSION_NOT_FOUND");
    expect(port.sessions[0]?.cells).toEqual([]);
    expect((await run(app, id, { code: "1" }, "key-a")).status).toBe(200);
    expect((await remove(app, id, "key-a")).status).toBe(204);
  });

  it("with API_KEYS every session route needs a key: 401 without one, before the body is read", async () => {
    const { app, port } = appWith({ apiKeys: ["key-a"] });
    await errorOf(await open(app), 401, "UNAUTHORIZED");
    await errorOf(await app.request("/sessions", { method: "POST", headers: { "content-type": "text/plain" }, body: "x" }), 401, "UNAUTHORIZED");
    await errorOf(await run(app, "x", { code: "1" }), 401, "UNAUTHORIZED");
    await errorOf(await view(app, "x", "wrong"), 401, "UNAUTHORIZED");
    await errorOf(await remove(app, "x"), 401, "UNAUTHORIZED");
    expect(port.specs).toEqual([]);
  });

  it("without API_KEYS every client shares the one owner, whatever Authorization it sends", async () => {
    const { app } = appWith();
    const id = await openedId(app, "anything");
    expect((await view(app, id)).status).toBe(200);
    expect((await view(app, id, "something-else")).status).toBe(200);
  });
});

describe("the session routes in /openapi.json", () => {
  type Json = Record<string, any>;
  let doc: Json;
  beforeAll(async () => {
    doc = (await (await appWith({ apiKeys: ["k"] }).app.request("/openapi.json")).json()) as Json;
  });
  const resolve = (node: Json): Json => {
    if (typeof node.$ref !== "string") return node;
    return (node.$ref as string)
      .replace(/^#\//, "")
      .split("/")
      .reduce<Json>((at, key) => at[key] as Json, doc);
  };

  it("documents the four operations, each behind the API key", () => {
    expect(Object.keys(doc.paths["/sessions"])).toEqual(["post"]);
    expect(Object.keys(doc.paths["/sessions/{id}/execute"])).toEqual(["post"]);
    expect(Object.keys(doc.paths["/sessions/{id}"]).sort()).toEqual(["delete", "get"]);
    for (const operation of [
      doc.paths["/sessions"].post,
      doc.paths["/sessions/{id}/execute"].post,
      doc.paths["/sessions/{id}"].get,
      doc.paths["/sessions/{id}"].delete,
    ]) {
      expect(operation.security).toEqual([{ bearerAuth: [] }]);
    }
  });

  it("POST /sessions: its strict body with valid examples, the 201 and the codes it answers", () => {
    const operation = doc.paths["/sessions"].post;
    const schema = resolve(operation.requestBody.content["application/json"].schema);
    expect(schema.additionalProperties).toBe(false);
    expect(Object.keys(schema.properties)).toEqual(["memoryMb", "idleTimeoutMs", "files"]);
    expect(schema.properties.idleTimeoutMs).toMatchObject({ type: "integer", minimum: 1000, maximum: MAX_IDLE_MS });
    expect(Object.keys(operation.requestBody.content["application/json"].examples).length).toBeGreaterThan(0);
    expect(Object.keys(operation.responses).sort()).toEqual(["201", "400", "401", "413", "415", "422", "429", "499", "500", "503"]);
    expect(Object.keys(operation.responses["429"].content["application/json"].examples).sort()).toEqual(["BUSY", "SESSION_LIMIT"]);
    expect(resolve(operation.responses["201"].content["application/json"].schema).required).toEqual(["id", "expiresAt", "memoryMb", "idleTimeoutMs"]);
  });

  it("POST /sessions/{id}/execute: code, the cell's success with resultKind, 404, 409 and sessionEnded in the Error schema", () => {
    const operation = doc.paths["/sessions/{id}/execute"].post;
    expect(operation.parameters).toEqual([
      expect.objectContaining({ name: "id", in: "path", required: true }),
      expect.objectContaining({ name: "idempotency-key", in: "header", required: false }),
    ]);
    const schema = resolve(operation.requestBody.content["application/json"].schema);
    expect(schema.required).toEqual(["code"]);
    // /execute's success, and a result of a cell's with its kind.
    const [execute, cell] = resolve(operation.responses["200"].content["application/json"].schema).allOf as Json[];
    expect(execute?.$ref).toBe("#/components/schemas/ExecuteSuccess");
    expect(cell?.properties.resultKind.enum).toEqual(["json", "repr"]);
    expect(Object.keys(operation.responses["404"].content["application/json"].examples)).toEqual(["SESSION_NOT_FOUND"]);
    expect(Object.keys(operation.responses["409"].content["application/json"].examples)).toEqual(["SESSION_BUSY"]);
    expect(operation.responses["400"].content["application/json"].examples).not.toHaveProperty("MAIN_NOT_FOUND");
    expect(operation.responses["400"].content["application/json"].examples.MEMORY_LIMIT_EXCEEDED.value.sessionEnded).toBe(true);
    expect(resolve(operation.responses["400"].content["application/json"].schema).properties.sessionEnded.type).toBe("boolean");
  });

  it("GET and DELETE: 200 with the view, 204, and 404 with its example", () => {
    const { get, delete: del } = doc.paths["/sessions/{id}"];
    expect(resolve(get.responses["200"].content["application/json"].schema).required).toEqual([
      "id",
      "createdAt",
      "lastUsedAt",
      "expiresAt",
      "memoryMb",
      "idleTimeoutMs",
      "cells",
    ]);
    expect(Object.keys(del.responses).sort()).toEqual(["204", "401", "404", "500"]);
    expect(del.responses["404"].content["application/json"].examples.SESSION_NOT_FOUND.value).toEqual(ERROR_EXAMPLES.SESSION_NOT_FOUND);
  });

  it("every session code is documented somewhere under its status", () => {
    for (const code of ["SESSION_NOT_FOUND", "SESSION_BUSY", "SESSION_LIMIT"] as const) {
      const status = String(STATUS_BY_CODE[code]);
      const documented = Object.values(doc.paths as Json).some((path: Json) =>
        Object.values(path).some((operation: Json) => operation.responses[status]?.content["application/json"].examples[code] !== undefined),
      );
      expect(documented, code).toBe(true);
    }
  });
});

describe("sessions with an Idempotency-Key", () => {
  const withStore = () => appWith({ idempotency: new IdempotencyStore({ windowMs: 60_000, maxKeys: 100, maxBytes: 1_000_000 }) });
  const KEY = { "idempotency-key": '"cell-1"' };

  it("a cell sent again with its key runs once and gets the first answer (a browser resends a 408 on its own)", async () => {
    const { app, port } = withStore();
    const id = await openedId(app);
    port.answer = async () => ({
      outcome: err(failure("TIMEOUT", "The cell was interrupted at its time limit", OUTPUT, { durationMs: 5 })),
      sessionEnded: false,
    });
    const first = await run(app, id, { code: "n += 1" }, undefined, KEY);
    const again = await run(app, id, { code: "n += 1" }, undefined, KEY);
    expect([first.status, again.status]).toEqual([408, 408]);
    expect(await again.text()).toBe(await first.text());
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(port.sessions[0]?.cells).toHaveLength(1);
  });

  it("POST /sessions sent again with its key starts one session", async () => {
    const { app, port } = withStore();
    const first = await open(app, {}, undefined, KEY);
    const again = await open(app, {}, undefined, KEY);
    expect([first.status, again.status]).toEqual([201, 201]);
    expect(((await again.json()) as { id: string }).id).toBe(((await first.json()) as { id: string }).id);
    expect(port.sessions).toHaveLength(1);
  });

  it("the same key on another session's cell is another request: refused, never answered with the first's", async () => {
    const { app, port } = withStore();
    const [a, b] = [await openedId(app), await openedId(app)];
    expect((await run(app, a, { code: "1" }, undefined, KEY)).status).toBe(200);
    await errorOf(await run(app, b, { code: "1" }, undefined, KEY), 422, "IDEMPOTENCY_KEY_REUSED");
    expect(port.sessions[1]?.cells).toHaveLength(0);
  });
});
