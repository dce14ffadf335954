import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AdmissionGate } from "./admission.js";
import { type CapturedOutput, NO_OUTPUT } from "./captured-output.js";
import { type ExecutionFailure, failure } from "./execution-result.js";
import { err, ok, type Result } from "./result.js";
import type { SandboxOutcome } from "./sandbox.port.js";
import type { Cell, CellOutcome, SandboxSession, SessionSandboxPort, SessionSpec } from "./session.port.js";
import { type EndedSession, type SessionEndReason, type SessionLimits, Sessions, type SessionsDeps } from "./sessions.use-case.js";

const output: CapturedOutput = { stdout: "hi\n", stderr: "", stdoutTruncated: false, stderrTruncated: false };
const cell: Cell = { code: "x = 1\nx", timeoutMs: 5000 };
const answered = (resultJson = "1"): CellOutcome => ({ outcome: ok({ resultJson, output, durationMs: 2 }), sessionEnded: false });

/** A promise the test settles. */
function deferred<T>() {
  const { promise, resolve, reject } = Promise.withResolvers<T>();
  return { promise, resolve, reject };
}

/** One session's sandbox: its cells answer as the test says, its end is recorded, it can end on its own. */
class FakeSession implements SandboxSession {
  readonly cells: Cell[] = [];
  endCalls = 0;
  private readonly exit = deferred<string>();
  readonly ended = this.exit.promise;

  constructor(private readonly answer: (cell: Cell) => Promise<CellOutcome>) {}

  runCell(cell: Cell): Promise<CellOutcome> {
    this.cells.push(cell);
    return this.answer(cell);
  }

  async end(): Promise<void> {
    this.endCalls++;
  }

  /** The process ends by itself (it was killed, or exited between cells). */
  exitOnItsOwn(why: string): void {
    this.exit.resolve(why);
  }
}

/** The port: opens FakeSessions whose cells answer with `answer`, or refuses as `open` says. */
class FakeSessionSandbox implements SessionSandboxPort {
  readonly specs: SessionSpec[] = [];
  readonly sessions: FakeSession[] = [];
  answer: (cell: Cell) => Promise<CellOutcome> = async () => answered();
  open: () => Promise<Result<void, ExecutionFailure>> = async () => ok(undefined);

  async openSession(spec: SessionSpec): Promise<Result<SandboxSession, ExecutionFailure>> {
    this.specs.push(spec);
    const opened = await this.open();
    if (!opened.ok) return opened;
    const session = new FakeSession((cell) => this.answer(cell));
    this.sessions.push(session);
    return ok(session);
  }
}

const LIMITS: SessionLimits = { maxSessions: 2, maxIdleMs: 3_600_000, maxAgeMs: 3_600_000 };
const REQUEST = { memoryMb: 256, idleTimeoutMs: 600_000 };

function setUp(options: { limits?: Partial<SessionLimits>; maxConcurrent?: number; maxQueued?: number; deps?: Partial<SessionsDeps> } = {}) {
  const sandbox = new FakeSessionSandbox();
  const gate = new AdmissionGate({ maxConcurrent: options.maxConcurrent ?? 4, maxQueued: options.maxQueued ?? 0, maxWaitMs: 1000 });
  const ended: { reason: SessionEndReason; ended: EndedSession }[] = [];
  const internalErrors: unknown[] = [];
  let ids = 0;
  const sessions = new Sessions({
    sandbox,
    gate,
    limits: { ...LIMITS, ...options.limits },
    retryAfterSeconds: 7,
    newId: () => `id-${++ids}`,
    onEnded: (reason, info) => ended.push({ reason, ended: info }),
    onInternalError: (cause) => internalErrors.push(cause),
    ...options.deps,
  });
  return { sandbox, gate, sessions, ended, internalErrors };
}

/** Opens a session and returns its id, failing the test if it was refused. */
async function opened(sessions: Sessions, owner = "alice"): Promise<string> {
  const created = await sessions.create(owner, REQUEST);
  if (!created.ok) throw new Error(`refused: ${created.error.code}`);
  return created.value.id;
}

const codeOf = (outcome: SandboxOutcome | Result<unknown, ExecutionFailure>): string => (outcome.ok ? "OK" : outcome.error.code);

describe("Sessions", () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: new Date("2026-12-07T00:00:00Z") });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  describe("create", () => {
    it("opens a sandbox with the session's memory, the maximum age and the files, and answers its view", async () => {
      const { sandbox, sessions } = setUp();
      const files = [{ path: "a.csv", content: "x\n", encoding: "utf-8" as const }];
      const created = await sessions.create("alice", { ...REQUEST, files });
      const now = Date.now();
      expect(created).toEqual(
        ok({ id: "id-1", createdAt: now, lastUsedAt: now, expiresAt: now + REQUEST.idleTimeoutMs, memoryMb: 256, idleTimeoutMs: 600_000, cells: 0 }),
      );
      expect(sandbox.specs).toEqual([{ memoryMb: 256, maxAgeMs: LIMITS.maxAgeMs, files }]);
      expect(sessions.count).toBe(1);
    });

    it("expiresAt is the maximum age when that comes before the idle timeout", async () => {
      const { sessions } = setUp({ limits: { maxAgeMs: 60_000 } });
      const created = await sessions.create("alice", REQUEST);
      expect(created.ok && created.value.expiresAt).toBe(Date.now() + 60_000);
    });

    it("past MAX_SESSIONS: SESSION_LIMIT with a Retry-After, whoever asks; a session ended makes room", async () => {
      const { sessions } = setUp();
      const first = await opened(sessions, "alice");
      await opened(sessions, "bob");
      const refused = await sessions.create("carol", REQUEST);
      expect(refused).toEqual(err(expect.objectContaining({ code: "SESSION_LIMIT", retryAfterSeconds: 7 })));
      expect(!refused.ok && refused.error.message).toContain("All 2 sessions");
      await sessions.delete("alice", first);
      expect(codeOf(await sessions.create("carol", REQUEST))).toBe("OK");
    });

    it("sessions being opened count against the limit", async () => {
      const { sandbox, sessions } = setUp({ limits: { maxSessions: 1 } });
      const gate = deferred<Result<void, ExecutionFailure>>();
      sandbox.open = () => gate.promise;
      const first = sessions.create("alice", REQUEST);
      expect(codeOf(await sessions.create("bob", REQUEST))).toBe("SESSION_LIMIT");
      gate.resolve(ok(undefined));
      expect(codeOf(await first)).toBe("OK");
    });

    it("MAX_SESSIONS 0: sessions are off, and the message says so", async () => {
      const refused = await setUp({ limits: { maxSessions: 0 } }).sessions.create("alice", REQUEST);
      expect(!refused.ok && refused.error).toMatchObject({ code: "SESSION_LIMIT", message: expect.stringContaining("MAX_SESSIONS is 0") });
    });

    it("the sandbox's refusal is the answer, and no session is kept", async () => {
      const { sandbox, sessions } = setUp();
      sandbox.open = async () => err(failure("SANDBOX_UNAVAILABLE", "no jail", NO_OUTPUT));
      expect(codeOf(await sessions.create("alice", REQUEST))).toBe("SANDBOX_UNAVAILABLE");
      expect(sessions.count).toBe(0);
    });

    it("a sandbox that throws is an INTERNAL answer, its cause told to onInternalError", async () => {
      const { sandbox, sessions, internalErrors } = setUp();
      sandbox.open = async () => {
        throw new Error("bug");
      };
      expect(codeOf(await sessions.create("alice", REQUEST))).toBe("INTERNAL");
      expect(internalErrors).toEqual([new Error("bug")]);
      expect(sessions.count).toBe(0);
    });

    it("opening takes a concurrency slot: with none free and no queue it is BUSY with a Retry-After", async () => {
      const { sandbox, gate, sessions } = setUp({ maxConcurrent: 1 });
      const held = await gate.acquire();
      expect(await sessions.create("alice", REQUEST)).toEqual(err(expect.objectContaining({ code: "BUSY", retryAfterSeconds: 7 })));
      expect(sandbox.specs).toEqual([]);
      if (held.admitted) held.release();
    });

    it("a request whose client has gone is CANCELLED and opens nothing", async () => {
      const { sandbox, sessions } = setUp();
      expect(codeOf(await sessions.create("alice", REQUEST, AbortSignal.abort()))).toBe("CANCELLED");
      expect(sandbox.specs).toEqual([]);
    });
  });

  describe("owners", () => {
    it("a session is its owner's: to another owner it does not exist, for every operation", async () => {
      const { sandbox, sessions } = setUp();
      const id = await opened(sessions, "alice");
      expect(sessions.view("bob", id)).toBeUndefined();
      const outcome = await sessions.execute("bob", id, cell);
      expect(outcome).toEqual(err(expect.objectContaining({ code: "SESSION_NOT_FOUND" })));
      expect(await sessions.delete("bob", id)).toBe(false);
      expect(sandbox.sessions[0]?.cells).toEqual([]);
      expect(sandbox.sessions[0]?.endCalls).toBe(0);
      expect(sessions.view("alice", id)?.id).toBe(id);
    });

    it("SESSION_NOT_FOUND names the id and says to start a new session", async () => {
      const outcome = await setUp().sessions.execute("alice", "nope", cell);
      expect(!outcome.ok && outcome.error.message).toMatch(/^No session "nope": .*start a new one$/);
    });
  });

  describe("execute", () => {
    it("runs the cell in the owner's session and answers its outcome; the view counts it and when", async () => {
      const { sandbox, sessions } = setUp();
      const id = await opened(sessions);
      sandbox.answer = async () => answered("42");
      vi.advanceTimersByTime(5000);
      expect(await sessions.execute("alice", id, cell)).toEqual(ok({ resultJson: "42", output, durationMs: 2 }));
      expect(sandbox.sessions[0]?.cells).toEqual([cell]);
      const now = Date.now();
      expect(sessions.view("alice", id)).toMatchObject({ cells: 1, lastUsedAt: now, expiresAt: now + REQUEST.idleTimeoutMs });
    });

    it("a failed cell that leaves the session alive is answered as it is, and the session goes on", async () => {
      const { sandbox, sessions } = setUp();
      const id = await opened(sessions);
      const failed = err(failure("RUNTIME_ERROR", "NameError: name 'y' is not defined", output, { traceback: "tb" }));
      sandbox.answer = async () => ({ outcome: failed, sessionEnded: false });
      expect(await sessions.execute("alice", id, cell)).toEqual(failed);
      expect(sessions.view("alice", id)?.cells).toBe(1);
    });

    it("cells of one session never overlap: a second one while the first runs is SESSION_BUSY, and runs nothing", async () => {
      const { sandbox, sessions } = setUp();
      const id = await opened(sessions);
      const first = deferred<CellOutcome>();
      sandbox.answer = () => first.promise;
      const running = sessions.execute("alice", id, cell);
      const second = await sessions.execute("alice", id, { ...cell, code: "2" });
      expect(second).toEqual(err(expect.objectContaining({ code: "SESSION_BUSY" })));
      expect(!second.ok && second.error.retryAfterSeconds).toBeUndefined();
      expect(sandbox.sessions[0]?.cells).toEqual([cell]);
      first.resolve(answered());
      expect(codeOf(await running)).toBe("OK");
      sandbox.answer = async () => answered();
      expect(codeOf(await sessions.execute("alice", id, cell))).toBe("OK");
    });

    it("two sessions run cells at the same time", async () => {
      const { sandbox, sessions } = setUp();
      const a = await opened(sessions);
      const b = await opened(sessions);
      const slow = deferred<CellOutcome>();
      sandbox.answer = () => slow.promise;
      const first = sessions.execute("alice", a, cell);
      const second = sessions.execute("alice", b, cell);
      slow.resolve(answered());
      expect((await Promise.all([first, second])).map(codeOf)).toEqual(["OK", "OK"]);
    });

    it("a cell takes a concurrency slot while it runs, and an idle session holds none", async () => {
      const { sandbox, gate, sessions } = setUp({ maxConcurrent: 1 });
      const id = await opened(sessions);
      expect(gate.running).toBe(0);
      const slow = deferred<CellOutcome>();
      sandbox.answer = () => slow.promise;
      const running = sessions.execute("alice", id, cell);
      await vi.waitFor(() => expect(gate.running).toBe(1));
      expect(codeOf(await sessions.create("alice", REQUEST))).toBe("BUSY");
      slow.resolve(answered());
      await running;
      expect(gate.running).toBe(0);
    });

    it("a cell refused a slot is BUSY with a Retry-After, not counted, and the session stays usable", async () => {
      const { gate, sessions } = setUp({ maxConcurrent: 1 });
      const id = await opened(sessions);
      const held = await gate.acquire();
      expect(await sessions.execute("alice", id, cell)).toEqual(err(expect.objectContaining({ code: "BUSY", retryAfterSeconds: 7 })));
      expect(sessions.view("alice", id)?.cells).toBe(0);
      if (held.admitted) held.release();
      expect(codeOf(await sessions.execute("alice", id, cell))).toBe("OK");
    });

    it("a cell whose client has gone before it got a slot is CANCELLED and not run", async () => {
      const { sandbox, sessions } = setUp();
      const id = await opened(sessions);
      expect(codeOf(await sessions.execute("alice", id, cell, AbortSignal.abort()))).toBe("CANCELLED");
      expect(sandbox.sessions[0]?.cells).toEqual([]);
    });

    it("a runCell that throws is INTERNAL, told to onInternalError; the session stays", async () => {
      const { sandbox, sessions, internalErrors } = setUp();
      const id = await opened(sessions);
      sandbox.answer = async () => {
        throw new Error("bug");
      };
      expect(codeOf(await sessions.execute("alice", id, cell))).toBe("INTERNAL");
      expect(internalErrors).toEqual([new Error("bug")]);
      sandbox.answer = async () => answered();
      expect(codeOf(await sessions.execute("alice", id, cell))).toBe("OK");
    });
  });

  describe("a cell that ends its session", () => {
    it("is answered with sessionEnded; the sandbox is ended, and later calls are SESSION_NOT_FOUND", async () => {
      const { sandbox, sessions, ended } = setUp();
      const id = await opened(sessions);
      const oom = failure("MEMORY_LIMIT_EXCEEDED", "Memory limit exceeded (256 MB)", output, { durationMs: 40 });
      sandbox.answer = async () => ({ outcome: err(oom), sessionEnded: true });
      expect(await sessions.execute("alice", id, cell)).toEqual(err({ ...oom, sessionEnded: true }));
      expect(sandbox.sessions[0]?.endCalls).toBe(1);
      expect(ended).toEqual([{ reason: "cell", ended: { cells: 1, ageMs: 0 } }]);
      expect(sessions.view("alice", id)).toBeUndefined();
      expect(codeOf(await sessions.execute("alice", id, cell))).toBe("SESSION_NOT_FOUND");
      expect(await sessions.delete("alice", id)).toBe(false);
      expect(sessions.count).toBe(0);
    });

    it("a sandbox that ends on its own between cells ends the session, with what it said", async () => {
      const { sandbox, sessions, ended } = setUp();
      const id = await opened(sessions);
      sandbox.sessions[0]?.exitOnItsOwn("killed by signal 9");
      await vi.advanceTimersByTimeAsync(0);
      expect(sessions.view("alice", id)).toBeUndefined();
      expect(ended).toEqual([{ reason: "process", ended: { detail: "killed by signal 9", cells: 0, ageMs: 0 } }]);
      expect(codeOf(await sessions.execute("alice", id, cell))).toBe("SESSION_NOT_FOUND");
    });

    it("a sandbox that ends on its own while a cell runs ends the session once the cell is answered, with sessionEnded", async () => {
      const { sandbox, sessions, ended } = setUp();
      const id = await opened(sessions);
      const slow = deferred<CellOutcome>();
      sandbox.answer = () => slow.promise;
      const running = sessions.execute("alice", id, cell);
      sandbox.sessions[0]?.exitOnItsOwn("exited 1");
      await Promise.resolve();
      expect(sessions.view("alice", id)).toBeDefined();
      slow.resolve({ outcome: err(failure("SCRIPT_EXITED", "exited", output)), sessionEnded: false });
      expect(await running).toEqual(err(expect.objectContaining({ code: "SCRIPT_EXITED", sessionEnded: true })));
      expect(ended.map((end) => end.reason)).toEqual(["process"]);
      expect(sessions.view("alice", id)).toBeUndefined();
    });
  });

  describe("expiry", () => {
    it("a session idle for its idleTimeoutMs ends; each cell starts the idle time again", async () => {
      const { sandbox, sessions, ended } = setUp();
      const id = await opened(sessions);
      vi.advanceTimersByTime(REQUEST.idleTimeoutMs - 1000);
      await sessions.execute("alice", id, cell);
      vi.advanceTimersByTime(REQUEST.idleTimeoutMs - 1000);
      expect(sessions.view("alice", id)).toBeDefined();
      vi.advanceTimersByTime(1000);
      expect(sessions.view("alice", id)).toBeUndefined();
      expect(ended).toEqual([{ reason: "idle", ended: { cells: 1, ageMs: 2 * REQUEST.idleTimeoutMs - 1000 } }]);
      expect(sandbox.sessions[0]?.endCalls).toBe(1);
      expect(codeOf(await sessions.execute("alice", id, cell))).toBe("SESSION_NOT_FOUND");
    });

    it("a running cell is never idle: the idle time starts when it is answered", async () => {
      const { sandbox, sessions } = setUp();
      const id = await opened(sessions);
      const slow = deferred<CellOutcome>();
      sandbox.answer = () => slow.promise;
      const running = sessions.execute("alice", id, cell);
      vi.advanceTimersByTime(REQUEST.idleTimeoutMs * 2);
      expect(sessions.view("alice", id)).toBeDefined();
      slow.resolve(answered());
      await running;
      vi.advanceTimersByTime(REQUEST.idleTimeoutMs - 1);
      expect(sessions.view("alice", id)).toBeDefined();
    });

    it("a session ends at its maximum age however busy it is kept", async () => {
      const { sessions, ended } = setUp({ limits: { maxAgeMs: 60_000 } });
      const id = await opened(sessions);
      for (let second = 0; second < 59; second++) {
        vi.advanceTimersByTime(1000);
        await sessions.execute("alice", id, cell);
      }
      expect(sessions.view("alice", id)?.expiresAt).toBe(Date.now() + 1000);
      vi.advanceTimersByTime(1000);
      expect(sessions.view("alice", id)).toBeUndefined();
      expect(ended).toEqual([{ reason: "max-age", ended: { cells: 59, ageMs: 60_000 } }]);
    });

    it("a cell running at the maximum age is stopped with its session: TIMEOUT, sessionEnded, what it printed", async () => {
      const { sandbox, sessions } = setUp({ limits: { maxAgeMs: 60_000 } });
      const id = await opened(sessions);
      const slow = deferred<CellOutcome>();
      sandbox.answer = () => slow.promise;
      const running = sessions.execute("alice", id, cell);
      vi.advanceTimersByTime(60_000);
      expect(sandbox.sessions[0]?.endCalls).toBe(1);
      // What the killed process looks like to the sandbox; the session's end is the answer.
      slow.resolve({ outcome: err(failure("SCRIPT_EXITED", "killed", output, { durationMs: 59_000 })), sessionEnded: true });
      const outcome = await running;
      expect(outcome).toEqual(err(expect.objectContaining({ code: "TIMEOUT", output, durationMs: 59_000, sessionEnded: true })));
      expect(!outcome.ok && outcome.error.message).toContain("maximum age of 60000 ms");
    });
  });

  describe("delete", () => {
    it("ends the owner's session: its sandbox is ended before it resolves, and it is gone", async () => {
      const { sandbox, sessions, ended } = setUp();
      const id = await opened(sessions);
      expect(await sessions.delete("alice", id)).toBe(true);
      expect(sandbox.sessions[0]?.endCalls).toBe(1);
      expect(ended.map((end) => end.reason)).toEqual(["deleted"]);
      expect(await sessions.delete("alice", id)).toBe(false);
      vi.advanceTimersByTime(LIMITS.maxAgeMs);
      expect(ended).toHaveLength(1);
    });

    it("a cell running when its session is deleted is answered SESSION_NOT_FOUND with sessionEnded and its output", async () => {
      const { sandbox, sessions } = setUp();
      const id = await opened(sessions);
      const slow = deferred<CellOutcome>();
      sandbox.answer = () => slow.promise;
      const running = sessions.execute("alice", id, cell);
      await sessions.delete("alice", id);
      slow.resolve({ outcome: err(failure("SCRIPT_EXITED", "killed", output)), sessionEnded: true });
      expect(await running).toEqual(err(expect.objectContaining({ code: "SESSION_NOT_FOUND", output, sessionEnded: true })));
    });

    it("a sandbox whose end throws is still gone from the sessions; the bug goes to onInternalError", async () => {
      const { sandbox, sessions, internalErrors } = setUp({ limits: { maxSessions: 1 } });
      const id = await opened(sessions);
      const session = sandbox.sessions[0];
      if (session) session.end = () => Promise.reject(new Error("stuck"));
      expect(await sessions.delete("alice", id)).toBe(true);
      expect(internalErrors).toEqual([new Error("stuck")]);
      expect(codeOf(await sessions.create("alice", REQUEST))).toBe("OK");
    });

    it("a session whose sandbox is still ending holds its place against the limit", async () => {
      const { sandbox, sessions } = setUp({ limits: { maxSessions: 1 } });
      const id = await opened(sessions);
      const gone = deferred<void>();
      const session = sandbox.sessions[0];
      if (session) session.end = () => gone.promise;
      const deleting = sessions.delete("alice", id);
      expect(codeOf(await sessions.create("alice", REQUEST))).toBe("SESSION_LIMIT");
      gone.resolve();
      await deleting;
      expect(codeOf(await sessions.create("alice", REQUEST))).toBe("OK");
    });
  });

  describe("close (shutdown)", () => {
    it("waits for the cells in flight, then ends every session; no session opens after it began", async () => {
      const { sandbox, sessions, ended } = setUp();
      const busy = await opened(sessions, "alice");
      await opened(sessions, "bob");
      const slow = deferred<CellOutcome>();
      sandbox.answer = () => slow.promise;
      const running = sessions.execute("alice", busy, cell);
      let closed = false;
      const closing = sessions.close().then(() => {
        closed = true;
      });
      expect(codeOf(await sessions.create("carol", REQUEST))).toBe("SANDBOX_UNAVAILABLE");
      await vi.advanceTimersByTimeAsync(1000);
      expect(closed).toBe(false);
      expect(sandbox.sessions.map((session) => session.endCalls)).toEqual([0, 0]);
      slow.resolve(answered("7"));
      expect(await running).toEqual(ok(expect.objectContaining({ resultJson: "7" })));
      await closing;
      expect(sandbox.sessions.map((session) => session.endCalls)).toEqual([1, 1]);
      expect(ended.map((end) => end.reason)).toEqual(["shutdown", "shutdown"]);
      expect(sessions.count).toBe(0);
    });

    it("without waiting for cells, stops them with their sessions: SANDBOX_UNAVAILABLE with a Retry-After and sessionEnded", async () => {
      const { sandbox, sessions } = setUp();
      const id = await opened(sessions);
      const slow = deferred<CellOutcome>();
      sandbox.answer = () => slow.promise;
      const running = sessions.execute("alice", id, cell);
      const closing = sessions.close({ waitForCells: false });
      slow.resolve({ outcome: err(failure("SCRIPT_EXITED", "killed", output)), sessionEnded: true });
      await closing;
      expect(await running).toEqual(err(expect.objectContaining({ code: "SANDBOX_UNAVAILABLE", retryAfterSeconds: 7, sessionEnded: true, output })));
    });

    it("a session whose sandbox opens after close began is ended at once and refused", async () => {
      const { sandbox, sessions } = setUp();
      const gate = deferred<Result<void, ExecutionFailure>>();
      sandbox.open = () => gate.promise;
      const creating = sessions.create("alice", REQUEST);
      const closing = sessions.close();
      gate.resolve(ok(undefined));
      expect(codeOf(await creating)).toBe("SANDBOX_UNAVAILABLE");
      await closing;
      expect(sandbox.sessions[0]?.endCalls).toBe(1);
      expect(sessions.count).toBe(0);
    });
  });
});
