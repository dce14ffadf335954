/**
 * POST /execute with an Idempotency-Key, through the whole app (auth, body checks, the route) over
 * a fake execute function: no sandbox, no Python, no socket.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { NO_OUTPUT } from "../../domain/captured-output.js";
import type { ExecutionRequest } from "../../domain/execution-request.js";
import { failure } from "../../domain/execution-result.js";
import { err, ok } from "../../domain/result.js";
import type { SandboxOutcome } from "../../domain/sandbox.port.js";
import { MAX_IDEMPOTENCY_KEY_LENGTH } from "../../openapi/idempotency-key.js";
import { playgroundBundleDir, projectRoot } from "../project-paths.js";
import { type AppDeps, createApp } from "./app.js";
import type { IdempotentRequest } from "./idempotency.js";
import { IdempotencyStore } from "./idempotency-store.js";
import { loadPlaygroundAssets } from "./playground.js";
import { loadSwaggerAssets } from "./swagger-assets.js";

const LIMITS = { maxTimeoutMs: 10_000, maxMemoryMb: 256, maxScriptBytes: 1000, maxInputFiles: 3, maxInputFilesBytes: 1000 };
const STORE_LIMITS = { windowMs: 60_000, maxKeys: 100, maxBytes: 1_000_000 };
const TIMED_OUT: SandboxOutcome = err(failure("TIMEOUT", "Script execution timed out", { ...NO_OUTPUT, stdout: "Sleeping...\n" }, { durationMs: 2000 }));

let assets: Pick<AppDeps, "swaggerAssets" | "playgroundAssets">;
beforeAll(async () => {
  assets = { swaggerAssets: await loadSwaggerAssets(), playgroundAssets: await loadPlaygroundAssets(playgroundBundleDir(projectRoot())) };
});

/**
 * The app with an Idempotency-Key store, over `outcome`: the answer of every run, or of the
 * run-th one. `runs` are the requests that ran, with the signals they were given.
 */
function appWith(outcome: (run: number, request: ExecutionRequest) => Promise<SandboxOutcome> = async () => TIMED_OUT, deps: Partial<AppDeps> = {}) {
  const runs: ExecutionRequest[] = [];
  const events: IdempotentRequest[] = [];
  const app = createApp({
    execute: (request) => {
      runs.push(request);
      return outcome(runs.length, request);
    },
    health: () => ({ status: "ok", backend: "fake", isolation: "none", python: "3", packages: {} }),
    limits: LIMITS,
    ...assets,
    idempotency: new IdempotencyStore(STORE_LIMITS),
    onIdempotentRequest: (event) => events.push(event),
    ...deps,
  });
  return { app, runs, events };
}

type App = ReturnType<typeof appWith>["app"];

/** POSTs `body` (a script) to /execute with these headers; `signal` stands for the client's connection. */
const post = (app: App, headers: Record<string, string>, script = "def main(): pass", signal?: AbortSignal) =>
  app.request(
    new Request("http://localhost/execute", {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify({ script }),
      ...(signal ? { signal } : {}),
    }),
  );

const answer = async (response: Response) => ({
  status: response.status,
  contentType: response.headers.get("content-type"),
  replayed: response.headers.get("idempotent-replayed"),
  body: await response.text(),
});

describe("POST /execute with an Idempotency-Key", () => {
  it("without the header, every request runs, as always", async () => {
    const { app, runs, events } = appWith();
    const first = await post(app, {});
    const second = await post(app, {});
    expect([first.status, second.status]).toEqual([408, 408]);
    expect(second.headers.get("idempotent-replayed")).toBeNull();
    expect(runs).toHaveLength(2);
    expect(events).toEqual([]);
  });

  it("a repeat gets the first answer (status, Content-Type, body) marked Idempotent-Replayed, with an id of its own, and runs nothing", async () => {
    const { app, runs, events } = appWith();
    const first = await post(app, { "idempotency-key": '"k-1"', "x-request-id": "click" });
    const repeat = await post(app, { "idempotency-key": '"k-1"', "x-request-id": "resend" });
    const [firstAnswer, repeatAnswer] = [await answer(first), await answer(repeat)];

    expect(firstAnswer).toMatchObject({ status: 408, replayed: null });
    expect(JSON.parse(firstAnswer.body)).toMatchObject({ code: "TIMEOUT", stdout: "Sleeping...\n" });
    expect(repeatAnswer).toEqual({ ...firstAnswer, replayed: "true" });
    expect([first.headers.get("x-request-id"), repeat.headers.get("x-request-id")]).toEqual(["click", "resend"]);
    expect(runs).toHaveLength(1);
    expect(events).toEqual([
      { requestId: "click", outcome: "first" },
      { requestId: "resend", outcome: "replayed", firstRequestId: "click" },
    ]);
  });

  it('the quoted and the bare spelling are one key: "k" and k', async () => {
    const { app, runs } = appWith();
    await post(app, { "idempotency-key": '"k"' });
    expect((await post(app, { "idempotency-key": "k" })).headers.get("idempotent-replayed")).toBe("true");
    expect(runs).toHaveLength(1);
  });

  it("another key runs", async () => {
    const { app, runs } = appWith();
    await post(app, { "idempotency-key": "one" });
    await post(app, { "idempotency-key": "two" });
    expect(runs).toHaveLength(2);
  });

  it("the same key with another body is a 422 IDEMPOTENCY_KEY_REUSED naming the key, runs nothing, and leaves the first answer", async () => {
    const { app, runs, events } = appWith();
    await post(app, { "idempotency-key": "k", "x-request-id": "first" }, "def main(): return 1");
    const refused = await post(app, { "idempotency-key": "k", "x-request-id": "other" }, "def main(): return 2");
    expect(refused.status).toBe(422);
    expect(await refused.json()).toMatchObject({
      code: "IDEMPOTENCY_KEY_REUSED",
      error: 'Idempotency-Key "k" was already used with another request (path or body): a key stands for one request; send a new key with a new request',
    });
    expect(runs).toHaveLength(1);
    expect(events.at(-1)).toEqual({ requestId: "other", outcome: "refused", firstRequestId: "first" });
    expect((await post(app, { "idempotency-key": "k" }, "def main(): return 1")).headers.get("idempotent-replayed")).toBe("true");
  });

  it("a repeat while the first request runs waits for its answer; the script runs once", async () => {
    const { promise: finished, resolve: finish } = Promise.withResolvers<SandboxOutcome>();
    const { app, runs, events } = appWith(() => finished);
    const first = post(app, { "idempotency-key": "k", "x-request-id": "first" });
    await expect.poll(() => runs.length).toBe(1);
    const repeat = post(app, { "idempotency-key": "k", "x-request-id": "repeat" });
    await expect.poll(() => events.length).toBe(1);
    expect(events[0]).toEqual({ requestId: "repeat", outcome: "waited", firstRequestId: "first" });

    finish(ok({ resultJson: "42", output: NO_OUTPUT, durationMs: 5 }));
    const [firstAnswer, repeatAnswer] = [await answer(await first), await answer(await repeat)];
    expect(firstAnswer).toMatchObject({ status: 200, replayed: null });
    expect(JSON.parse(firstAnswer.body)).toMatchObject({ result: 42 });
    expect(repeatAnswer).toEqual({ ...firstAnswer, replayed: "true" });
    expect(runs).toHaveLength(1);
  });

  it("the run goes on while a repeat waits for it after the first client left, and is cancelled once no client is left", async () => {
    const { app, runs, events } = appWith((_run, request) => new Promise((resolve) => request.signal?.addEventListener("abort", () => resolve(TIMED_OUT))));
    const firstClient = new AbortController();
    const repeatClient = new AbortController();
    const first = post(app, { "idempotency-key": "k" }, undefined, firstClient.signal);
    await expect.poll(() => runs.length).toBe(1);
    const repeat = post(app, { "idempotency-key": "k" }, undefined, repeatClient.signal);
    await expect.poll(() => events.map((event) => event.outcome)).toEqual(["waited"]);
    const runSignal = runs[0]!.signal!;

    firstClient.abort();
    expect(runSignal.aborted).toBe(false);
    repeatClient.abort();
    expect(runSignal.aborted).toBe(true);
    await Promise.all([first, repeat]);
    expect(runs).toHaveLength(1);
  });

  it("a fault of the server's (500 INTERNAL) is not remembered: the key sent again runs", async () => {
    const { app, runs } = appWith(async (run) => {
      if (run === 1) throw new Error("a bug");
      return ok({ resultJson: '"second"', output: NO_OUTPUT, durationMs: 1 });
    });
    expect((await post(app, { "idempotency-key": "k" })).status).toBe(500);
    const again = await post(app, { "idempotency-key": "k" });
    expect(again.status).toBe(200);
    expect(again.headers.get("idempotent-replayed")).toBeNull();
    expect(runs).toHaveLength(2);
  });

  it("a run cancelled because its client left is not remembered: the key sent again runs, and gets the new answer", async () => {
    const { app, runs } = appWith(async (run, request) => {
      if (run > 1) return ok({ resultJson: '"second"', output: NO_OUTPUT, durationMs: 1 });
      await new Promise((resolve) => request.signal?.addEventListener("abort", resolve));
      return err(failure("CANCELLED", "The request was cancelled", NO_OUTPUT));
    });
    const client = new AbortController();
    const gone = post(app, { "idempotency-key": "k" }, undefined, client.signal);
    await expect.poll(() => runs.length).toBe(1);
    client.abort();
    expect((await gone).status).toBe(499);

    const again = await post(app, { "idempotency-key": "k" });
    expect(again.status).toBe(200);
    expect(again.headers.get("idempotent-replayed")).toBeNull();
    expect(await again.json()).toMatchObject({ result: "second" });
    expect(runs).toHaveLength(2);
  });

  it.each([
    ["BUSY", 429],
    ["SANDBOX_UNAVAILABLE", 503],
  ] as const)("a %s answer (%i) asks for the request again, so it is not remembered: the repeat runs", async (code, status) => {
    const { app, runs } = appWith(async (run) =>
      run === 1 ? err(failure(code, "try again", NO_OUTPUT, { retryAfterSeconds: 1 })) : ok({ resultJson: "1", output: NO_OUTPUT, durationMs: 1 }),
    );
    expect((await post(app, { "idempotency-key": "k" })).status).toBe(status);
    const repeat = await post(app, { "idempotency-key": "k" });
    expect(repeat.status).toBe(200);
    expect(runs).toHaveLength(2);
  });

  it.each([
    ["empty", '""'],
    ["too long", "k".repeat(MAX_IDEMPOTENCY_KEY_LENGTH + 1)],
    ["not visible ASCII", "a b"],
  ])("a key that is %s is a 400 INVALID_REQUEST, and nothing runs", async (_name, key) => {
    const { app, runs } = appWith();
    const response = await post(app, { "idempotency-key": key });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ code: "INVALID_REQUEST", error: expect.stringMatching(/^Idempotency-Key must be/) });
    expect(runs).toEqual([]);
  });

  describe("with API keys", () => {
    const deps = { apiKeys: ["key-a", "key-b"] };

    it("a key is the API key's own: another client's request with the same key runs and gets its own answer", async () => {
      const { app, runs } = appWith(async (run) => ok({ resultJson: String(run), output: NO_OUTPUT, durationMs: 1 }), deps);
      const byA = await post(app, { authorization: "Bearer key-a", "idempotency-key": "k" });
      const byB = await post(app, { authorization: "Bearer key-b", "idempotency-key": "k" });
      const againByA = await post(app, { authorization: "Bearer key-a", "idempotency-key": "k" });
      expect(await byA.json()).toMatchObject({ result: 1 });
      expect(await byB.json()).toMatchObject({ result: 2 });
      expect(byB.headers.get("idempotent-replayed")).toBeNull();
      expect(await againByA.json()).toMatchObject({ result: 1 });
      expect(againByA.headers.get("idempotent-replayed")).toBe("true");
      expect(runs).toHaveLength(2);
    });

    it("a request without a valid API key is a 401 before its key is looked at", async () => {
      const { app, runs, events } = appWith(undefined, deps);
      await post(app, { authorization: "Bearer key-a", "idempotency-key": "k" });
      const refused = await post(app, { authorization: "Bearer wrong", "idempotency-key": "k" });
      expect(refused.status).toBe(401);
      expect(refused.headers.get("idempotent-replayed")).toBeNull();
      expect(runs).toHaveLength(1);
      expect(events).toHaveLength(1);
    });
  });

  it("is documented in /openapi.json: the header on POST /execute, and its 422", async () => {
    const doc = (await (await appWith().app.request("/openapi.json")).json()) as {
      paths: {
        "/execute": { post: { parameters: { name: string; in: string; required?: boolean; description: string }[]; responses: Record<string, unknown> } };
      };
    };
    const { parameters, responses } = doc.paths["/execute"].post;
    expect(parameters).toEqual([expect.objectContaining({ name: "idempotency-key", in: "header", required: false })]);
    expect(parameters[0]!.description).toContain(`at most ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`);
    expect(responses["422"]).toMatchObject({ description: expect.stringContaining("IDEMPOTENCY_KEY_REUSED") });
  });
});
