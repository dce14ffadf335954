import { describe, expect, it } from "vitest";
import { type CellRun, type Fetch, NotebookSession, SESSION_GONE_REASON, type SessionState } from "./notebook-session.js";

interface Call {
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: unknown;
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });

const success = (result: unknown) => ({ result, resultKind: "json", stdout: "", stderr: "", stdoutTruncated: false, stderrTruncated: false, durationMs: 1 });

/**
 * A service of sessions in memory, as the API has it: each session a namespace of the names the
 * cells assigned (`x = 41`; `x + 1` is its value plus one), one cell at a time (409 otherwise).
 */
function fakeService() {
  const calls: Call[] = [];
  const sessions = new Map<string, Map<string, number>>();
  const busy = new Set<string>();
  let made = 0;
  /** Cells wait for this before they answer, when a test holds them. */
  let gate: Promise<void> = Promise.resolve();
  const fetch: Fetch = async (url, init) => {
    const method = init.method ?? "GET";
    calls.push({
      method,
      url,
      headers: { ...(init.headers as Record<string, string>) },
      body: init.body === undefined ? undefined : JSON.parse(String(init.body)),
    });
    if (method === "POST" && url === "/sessions") {
      made += 1;
      const id = `s${made}`;
      sessions.set(id, new Map());
      return json(201, { id, expiresAt: "2026-12-07T00:00:00Z", memoryMb: 256, idleTimeoutMs: 600_000 });
    }
    const [, , id, action] = url.split("/");
    const names = sessions.get(id ?? "");
    if (!names) return json(404, { error: `No session ${id}`, code: "SESSION_NOT_FOUND", stdout: "", stderr: "" });
    if (method === "DELETE") {
      sessions.delete(id!);
      return new Response(null, { status: 204 });
    }
    if (action !== "execute") throw new Error(`unexpected ${method} ${url}`);
    if (busy.has(id!)) return json(409, { error: "busy", code: "SESSION_BUSY", stdout: "", stderr: "" });
    busy.add(id!);
    try {
      // A real fetch rejects as soon as its signal is aborted, answered or not.
      await Promise.race([gate, new Promise((_, reject) => init.signal?.addEventListener("abort", () => reject(init.signal?.reason)))]);
      const { code } = JSON.parse(String(init.body)) as { code: string };
      if (code === "crash") {
        sessions.delete(id!);
        return json(507, { error: "out of memory", code: "MEMORY_LIMIT_EXCEEDED", stdout: "", stderr: "", sessionEnded: true });
      }
      const assigned = /^(\w+) = (\d+)$/.exec(code);
      if (assigned) {
        names.set(assigned[1]!, Number(assigned[2]));
        return json(200, success(null));
      }
      const added = /^(\w+) \+ (\d+)$/.exec(code);
      if (added) {
        const value = names.get(added[1]!);
        if (value === undefined) {
          return json(400, { error: `NameError: name '${added[1]}' is not defined`, code: "RUNTIME_ERROR", stdout: "", stderr: "", traceback: "Traceback" });
        }
        return json(200, success(value + Number(added[2])));
      }
      return json(200, success(null));
    } finally {
      busy.delete(id!);
    }
  };
  return {
    fetch,
    calls,
    sessions,
    hold() {
      let release = () => {};
      gate = new Promise((resolve) => {
        release = resolve;
      });
      return () => release();
    },
  };
}

const resultOf = (run: CellRun) => (run.kind === "answered" && run.outcome.kind === "ok" ? run.outcome.result : run);

describe("NotebookSession", () => {
  it("starts a session on the first run and keeps it: x = 41, then x + 1 is 42", async () => {
    const service = fakeService();
    const states: SessionState["kind"][] = [];
    const session = new NotebookSession(
      service.fetch,
      () => "",
      (state) => states.push(state.kind),
    );
    expect(session.state).toEqual({ kind: "none" });
    expect(service.calls).toEqual([]);

    expect(await session.run("x = 41")).toMatchObject({ kind: "answered", status: 200, count: 1, outcome: { kind: "ok", result: { kind: "none" } } });
    expect(resultOf(await session.run("x + 1"))).toMatchObject({ kind: "json", value: { source: "42" } });
    expect(service.calls.map((call) => `${call.method} ${call.url}`)).toEqual(["POST /sessions", "POST /sessions/s1/execute", "POST /sessions/s1/execute"]);
    expect(service.calls[1]?.body).toEqual({ code: "x = 41" });
    expect(states).toEqual(["starting", "open"]);
    expect(session.state).toMatchObject({ kind: "open", session: { id: "s1", idleTimeoutMs: 600_000 } });
  });

  it("sends the API key when there is one, and an Idempotency-Key with each cell", async () => {
    const service = fakeService();
    let key = "";
    const session = new NotebookSession(service.fetch, () => key);
    await session.run("x = 1");
    expect(service.calls.every((call) => call.headers.authorization === undefined)).toBe(true);
    key = " secret ";
    await session.run("x + 1");
    await session.restart();
    expect(service.calls.slice(2).map((call) => [call.method, call.headers.authorization])).toEqual([
      ["POST", "Bearer secret"],
      ["DELETE", "Bearer secret"],
    ]);
    expect(service.calls[1]?.headers["idempotency-key"]).toMatch(/^"[0-9a-f]{32}"$/);
    expect(service.calls[2]?.headers["idempotency-key"]).not.toBe(service.calls[1]?.headers["idempotency-key"]);
  });

  it("runs one cell at a time, in the order asked: the others wait their turn", async () => {
    const service = fakeService();
    const session = new NotebookSession(service.fetch, () => "");
    await session.run("x = 1");
    const release = service.hold();
    const started: string[] = [];
    const runs = ["x = 5", "x + 1", "x + 2"].map((code) => session.run(code, () => started.push(code)));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(started).toEqual(["x = 5"]);
    release();
    const [, plusOne, plusTwo] = await Promise.all(runs);
    expect(started).toEqual(["x = 5", "x + 1", "x + 2"]);
    expect(resultOf(plusOne!)).toMatchObject({ value: { source: "6" } });
    expect(resultOf(plusTwo!)).toMatchObject({ value: { source: "7" } });
    expect(plusTwo).toMatchObject({ count: 4 });
  });

  it("restart ends the session (DELETE), forgets its names, drops the waiting cells and starts a new one on the next run", async () => {
    const service = fakeService();
    const session = new NotebookSession(service.fetch, () => "");
    await session.run("x = 41");
    const release = service.hold();
    const running = session.run("x + 1");
    const waiting = session.run("x + 2");
    await new Promise((resolve) => setTimeout(resolve, 10));
    const restarted = session.restart();
    expect(session.state).toEqual({ kind: "none" });
    expect(await running).toEqual({ kind: "interrupted" });
    expect(await waiting).toEqual({ kind: "dropped", reason: "restarted before it ran" });
    await restarted;
    release();
    expect(service.sessions.has("s1")).toBe(false);

    const after = await session.run("x + 1");
    expect(after).toMatchObject({ count: 1, outcome: { kind: "failed", body: { code: "RUNTIME_ERROR", error: "NameError: name 'x' is not defined" } } });
    expect(session.state).toMatchObject({ kind: "open", session: { id: "s2" } });
    expect(service.calls.filter((call) => call.method === "DELETE").map((call) => call.url)).toEqual(["/sessions/s1"]);
  });

  it("a restart before any run sends nothing", async () => {
    const service = fakeService();
    const session = new NotebookSession(service.fetch, () => "");
    await session.restart();
    expect(service.calls).toEqual([]);
  });

  it("a session the service no longer has (404) is ended: the waiting cells are dropped, the next run starts a new one", async () => {
    const service = fakeService();
    const states: SessionState[] = [];
    const session = new NotebookSession(
      service.fetch,
      () => "",
      (state) => states.push(state),
    );
    await session.run("x = 41");
    service.sessions.delete("s1");
    const gone = session.run("x + 1");
    const waiting = session.run("x + 2");
    expect(await gone).toMatchObject({ kind: "answered", status: 404, outcome: { kind: "session-gone" } });
    expect(await waiting).toEqual({ kind: "dropped", reason: "the session ended before it ran" });
    expect(session.state).toEqual({ kind: "ended", reason: SESSION_GONE_REASON });

    expect(await session.run("x = 1")).toMatchObject({ kind: "answered", count: 1, outcome: { kind: "ok" } });
    expect(session.state).toMatchObject({ kind: "open", session: { id: "s2" } });
    expect(states.map((state) => state.kind)).toEqual(["starting", "open", "ended", "starting", "open"]);
  });

  it("a cell that ended its session (sessionEnded) ends it here too, with the error as the reason", async () => {
    const service = fakeService();
    const session = new NotebookSession(service.fetch, () => "");
    await session.run("x = 41");
    expect(await session.run("crash")).toMatchObject({ count: 2, outcome: { kind: "failed", sessionEnded: true, body: { code: "MEMORY_LIMIT_EXCEEDED" } } });
    expect(session.state).toEqual({ kind: "ended", reason: "MEMORY_LIMIT_EXCEEDED: out of memory" });
    await session.run("x = 1");
    expect(session.state).toMatchObject({ kind: "open", session: { id: "s2" } });
  });

  it("a session that cannot be started (SESSION_LIMIT) leaves the cell not run, and the next run tries again", async () => {
    let refuse = true;
    const service = fakeService();
    const fetch: Fetch = (url, init) =>
      refuse && url === "/sessions"
        ? Promise.resolve(json(429, { error: "Too many sessions", code: "SESSION_LIMIT", stdout: "", stderr: "" }, { "retry-after": "5" }))
        : service.fetch(url, init);
    const session = new NotebookSession(fetch, () => "");
    expect(await session.run("x = 1")).toEqual({ kind: "not-started", status: 429, message: "SESSION_LIMIT: Too many sessions (try again in 5 s)" });
    expect(session.state).toEqual({ kind: "none" });
    refuse = false;
    expect(await session.run("x = 1")).toMatchObject({ kind: "answered", count: 1 });
  });

  it("a service that cannot be reached is said so; the session is kept", async () => {
    const service = fakeService();
    let down = false;
    const fetch: Fetch = (url, init) => (down ? Promise.reject(new TypeError("Failed to fetch")) : service.fetch(url, init));
    const session = new NotebookSession(fetch, () => "");
    await session.run("x = 1");
    down = true;
    expect(await session.run("x + 1")).toEqual({ kind: "unreachable", message: "Failed to fetch" });
    expect(session.state).toMatchObject({ kind: "open" });
    down = false;
    expect(resultOf(await session.run("x + 1"))).toMatchObject({ value: { source: "2" } });
  });

  it("leave() ends the open session with a keepalive request", async () => {
    const service = fakeService();
    const inits: RequestInit[] = [];
    const session = new NotebookSession(
      (url, init) => {
        inits.push(init);
        return service.fetch(url, init);
      },
      () => "",
    );
    session.leave();
    expect(inits).toEqual([]);
    await session.run("x = 1");
    session.leave();
    expect(inits.at(-1)).toMatchObject({ method: "DELETE", keepalive: true });
  });
});
