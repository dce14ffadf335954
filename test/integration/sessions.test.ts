/**
 * The session routes on the real app over every backend: a Python that remembers between cells,
 * each cell answered as /execute answers, a cell that ends its session saying so, one cell at a
 * time, and every session its API key's.
 */
import { afterAll, describe, expect, it } from "vitest";
import { backends, closeSandboxes, realApp } from "../support/backends.js";
import { sample } from "../support/observing.js";
import type { App } from "../support/requests.js";
import { scaled } from "../support/slowdown.js";

const BACKENDS = await backends("subprocess", "subprocess pooled", "nsjail", "nsjail pooled", "nsjail zygote");

afterAll(closeSandboxes);

type Json = Record<string, unknown>;

const SALES = "region,amount\neast,10\nwest,5\neast,7\n";

const headersOf = (key?: string): Record<string, string> => ({
  "content-type": "application/json",
  ...(key === undefined ? {} : { authorization: `Bearer ${key}` }),
});

async function answer(response: Response): Promise<{ status: number; headers: Headers; body: Json }> {
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === "" ? {} : (JSON.parse(text) as Json) };
}

const open = async (app: App, body: Json = {}, key?: string) =>
  answer(await app.request("/sessions", { method: "POST", headers: headersOf(key), body: JSON.stringify(body) }));

const run = async (app: App, id: string, code: string, extra: Json = {}, key?: string) =>
  answer(
    await app.request(`/sessions/${id}/execute`, {
      method: "POST",
      headers: headersOf(key),
      body: JSON.stringify({ code, timeoutMs: scaled(20_000), ...extra }),
    }),
  );

const view = async (app: App, id: string, key?: string) => answer(await app.request(`/sessions/${id}`, { headers: headersOf(key) }));

const remove = async (app: App, id: string, key?: string) => answer(await app.request(`/sessions/${id}`, { method: "DELETE", headers: headersOf(key) }));

/** Opens a session, failing the test with the answer if it is not a 201. */
async function opened(app: App, body: Json = {}, key?: string): Promise<string> {
  const created = await open(app, body, key);
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return created.body.id as string;
}

/** Runs a cell that must succeed; its result. */
async function resultOf(app: App, id: string, code: string): Promise<unknown> {
  const ran = await run(app, id, code);
  expect(ran.status, JSON.stringify(ran.body)).toBe(200);
  return ran.body.result;
}

describe.each(BACKENDS)("$name: the session routes", (backend) => {
  let app: App;
  const appOf = async (): Promise<App> => {
    app ??= await realApp({}, backend);
    return app;
  };

  it("cells share one namespace and work dir: load the data once, then explore it; GET counts them; DELETE ends it (then 404)", async () => {
    const app = await appOf();
    const id = await opened(app, { files: [{ path: "sales.csv", content: SALES }] });
    expect(id).toMatch(/^[A-Za-z0-9_-]{22,}$/);
    expect(await resultOf(app, id, 'import pandas as pd\nsales = pd.read_csv("sales.csv")')).toBeNull();
    expect(await resultOf(app, id, 'int(sales["amount"].sum())')).toBe(22);
    const repr = await run(app, id, 'sales.groupby("region")["amount"].sum()');
    expect(repr.body).toMatchObject({ resultKind: "repr", result: expect.stringContaining("east") });
    const state = await view(app, id);
    expect(state.status).toBe(200);
    expect(state.body).toMatchObject({ id, cells: 3, idleTimeoutMs: 600_000 });

    expect((await remove(app, id)).status).toBe(204);
    expect((await view(app, id)).body).toMatchObject({ code: "SESSION_NOT_FOUND" });
    expect((await run(app, id, "1")).status).toBe(404);
  });

  it("a failing cell is /execute's error body and the session goes on; one that ends the process says sessionEnded, then 404", async () => {
    const app = await appOf();
    const id = await opened(app);
    await resultOf(app, id, "x = 41");
    const failed = await run(app, id, "print('before')\n1 / 0");
    expect(failed.status).toBe(400);
    expect(failed.body).toMatchObject({ code: "RUNTIME_ERROR", stdout: "before\n", traceback: expect.stringContaining("ZeroDivisionError") });
    expect(failed.body).not.toHaveProperty("sessionEnded");
    expect(await resultOf(app, id, "x + 1")).toBe(42);

    const exited = await run(app, id, "import os\nos._exit(3)");
    expect(exited.status).toBeGreaterThanOrEqual(400);
    expect(exited.body.sessionEnded).toBe(true);
    expect((await run(app, id, "x")).body).toMatchObject({ code: "SESSION_NOT_FOUND" });
  });

  it("a cell past its timeoutMs is 408 TIMEOUT and the session keeps its state", async () => {
    const app = await appOf();
    const id = await opened(app);
    await resultOf(app, id, "kept = 'still here'");
    const slow = await run(app, id, "import time\ntime.sleep(60)", { timeoutMs: scaled(1000) });
    expect(slow.status, JSON.stringify(slow.body)).toBe(408);
    expect(slow.body).not.toHaveProperty("sessionEnded");
    expect(await resultOf(app, id, "kept")).toBe("still here");
    await remove(app, id);
  });

  it("cells of one session never overlap: one sent while another runs is 409 SESSION_BUSY", async () => {
    const app = await appOf();
    const id = await opened(app);
    const first = run(app, id, "import time\ntime.sleep(2)\n'slept'");
    await new Promise((resolve) => setTimeout(resolve, scaled(500)));
    const second = await run(app, id, "1");
    expect(second.status).toBe(409);
    expect(second.body).toMatchObject({ code: "SESSION_BUSY" });
    expect((await first).body).toMatchObject({ result: "slept" });
    await remove(app, id);
  });

  it("metrics: the sessions open, the cells by code, the sessions ended by reason", async () => {
    const app = await appOf();
    const id = await opened(app);
    const scrape = async () => (await app.request("/metrics")).text();
    expect(sample(await scrape(), "pyexec_sessions_open")).toBeGreaterThanOrEqual(1);
    const deletedBefore = sample(await scrape(), "pyexec_sessions_ended_total", { reason: "deleted" }) ?? 0;
    const okBefore = sample(await scrape(), "pyexec_session_cells_total", { code: "OK" }) ?? 0;
    await resultOf(app, id, "1");
    await remove(app, id);
    const after = await scrape();
    expect(sample(after, "pyexec_session_cells_total", { code: "OK" })).toBe(okBefore + 1);
    expect(sample(after, "pyexec_sessions_ended_total", { reason: "deleted" })).toBe(deletedBefore + 1);
  });
});

describe("owners", () => {
  it("with API_KEYS a session is its key's: another key gets 404 for every operation, and cannot touch its state", async () => {
    const app = await realApp({ API_KEYS: "key-a,key-b" });
    const id = await opened(app, {}, "key-a");
    expect((await run(app, id, "secret = 1", {}, "key-a")).status).toBe(200);
    expect((await view(app, id, "key-b")).status).toBe(404);
    expect((await run(app, id, "secret", {}, "key-b")).status).toBe(404);
    expect((await remove(app, id, "key-b")).status).toBe(404);
    expect((await run(app, id, "secret", {}, "key-a")).body).toMatchObject({ result: 1 });
    expect((await remove(app, id, "key-a")).status).toBe(204);
  });

  it("past MAX_SESSIONS: 429 SESSION_LIMIT with Retry-After until one ends", async () => {
    const app = await realApp({ MAX_SESSIONS: "1" });
    const id = await opened(app);
    const refused = await open(app);
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("1");
    expect(refused.body).toMatchObject({ code: "SESSION_LIMIT" });
    await remove(app, id);
    await remove(app, await opened(app));
  });
});
