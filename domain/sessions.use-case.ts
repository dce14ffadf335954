import type { AdmissionGate } from "./admission.js";
import { NO_OUTPUT } from "./captured-output.js";
import type { InputFile } from "./execution-request.js";
import { type ExecutionFailure, failure } from "./execution-result.js";
import { err, ok, type Result } from "./result.js";
import type { SandboxOutcome } from "./sandbox.port.js";
import type { Cell, SandboxSession, SessionSandboxPort } from "./session.port.js";

/** The service's bounds on sessions (MAX_SESSIONS, SESSION_MAX_IDLE_MS, SESSION_MAX_AGE_MS). */
export interface SessionLimits {
  readonly maxSessions: number;
  readonly maxIdleMs: number;
  readonly maxAgeMs: number;
}

/** What a client asks a new session for, checked against the limits by the HTTP edge. */
export interface SessionRequest {
  readonly memoryMb: number;
  readonly idleTimeoutMs: number;
  readonly files?: readonly InputFile[];
}

/** What a client may read of its session. Times are epoch milliseconds. */
export interface SessionView {
  readonly id: string;
  readonly createdAt: number;
  readonly lastUsedAt: number;
  readonly expiresAt: number;
  readonly memoryMb: number;
  readonly idleTimeoutMs: number;
  /** Cells run so far (answered, whatever their outcome). */
  readonly cells: number;
}

/** Why a session ended, for metrics and the server log. */
export type SessionEndReason = "deleted" | "idle" | "max-age" | "cell" | "process" | "shutdown";

export interface SessionsDeps {
  readonly sandbox: SessionSandboxPort;
  /** Opening a session and running a cell take a concurrency slot; an idle session holds none. */
  readonly gate: AdmissionGate;
  readonly limits: SessionLimits;
  readonly retryAfterSeconds: number;
  /** A fresh id of at least 128 random bits, URL-safe. */
  readonly newId: () => string;
  readonly now?: () => number;
  readonly onEnded?: (reason: SessionEndReason, detail?: string) => void;
  /** Told the details of a bug; the client only learns that there was one. */
  readonly onInternalError?: (cause: unknown) => void;
}

interface OpenSession {
  readonly owner: string;
  readonly sandbox: SandboxSession;
  view: SessionView;
  busy: boolean;
  idleTimer?: ReturnType<typeof setTimeout>;
  readonly ageTimer: ReturnType<typeof setTimeout>;
}

const notFound = (id: string): ExecutionFailure =>
  failure(
    "SESSION_NOT_FOUND",
    `No session ${JSON.stringify(id)}: it never existed, has ended or expired, or belongs to another API key; start a new one`,
    NO_OUTPUT,
  );

/**
 * The sessions of this server: a Python that remembers, one cell at a time. Each belongs to the
 * owner (API key) that opened it; to every other owner it does not exist. A session ends when
 * deleted, idle past its idle timeout, at its maximum age, when a cell ends it, and at shutdown.
 */
export class Sessions {
  private readonly open = new Map<string, OpenSession>();
  /** Sessions being started: they count against maxSessions. */
  private opening = 0;
  private closed = false;
  private readonly running = new Set<Promise<unknown>>();
  private readonly now: () => number;

  constructor(private readonly deps: SessionsDeps) {
    this.now = deps.now ?? Date.now;
  }

  get count(): number {
    return this.open.size;
  }

  async create(owner: string, request: SessionRequest): Promise<Result<SessionView, ExecutionFailure>> {
    const { limits, retryAfterSeconds } = this.deps;
    if (this.closed)
      return err(failure("SANDBOX_UNAVAILABLE", "The server is shutting down; open a session on another replica", NO_OUTPUT, { retryAfterSeconds }));
    if (this.open.size + this.opening >= limits.maxSessions) {
      const message = `All ${limits.maxSessions} sessions this server keeps are open; end one (DELETE /sessions/{id}) or retry later`;
      return err(failure("SESSION_LIMIT", message, NO_OUTPUT, { retryAfterSeconds }));
    }
    this.opening++;
    try {
      const admitted = await this.admitted(() =>
        this.deps.sandbox.openSession({ memoryMb: request.memoryMb, maxAgeMs: limits.maxAgeMs, files: request.files }),
      );
      if (!admitted.ok) return admitted;
      if (!admitted.value.ok) return admitted.value;
      const sandbox = admitted.value.value;
      const createdAt = this.now();
      const id = this.deps.newId();
      const session: OpenSession = {
        owner,
        sandbox,
        busy: false,
        view: { id, createdAt, lastUsedAt: createdAt, expiresAt: 0, memoryMb: request.memoryMb, idleTimeoutMs: request.idleTimeoutMs, cells: 0 },
        ageTimer: setTimeout(() => void this.end(id, "max-age"), limits.maxAgeMs),
      };
      this.open.set(id, session);
      this.touch(session);
      void sandbox.ended.then((why) => {
        if (this.open.get(id) === session && !session.busy) void this.end(id, "process", why);
      });
      if (this.closed) {
        await this.end(id, "shutdown");
        return err(failure("SANDBOX_UNAVAILABLE", "The server is shutting down; open a session on another replica", NO_OUTPUT, { retryAfterSeconds }));
      }
      return ok(session.view);
    } finally {
      this.opening--;
    }
  }

  view(owner: string, id: string): SessionView | undefined {
    const session = this.open.get(id);
    return session?.owner === owner ? session.view : undefined;
  }

  async execute(owner: string, id: string, cell: Cell, signal?: AbortSignal): Promise<SandboxOutcome> {
    const session = this.open.get(id);
    if (session === undefined || session.owner !== owner) return err(notFound(id));
    if (session.busy) return err(failure("SESSION_BUSY", "A cell is already running in this session; cells of one session run one at a time", NO_OUTPUT));
    session.busy = true;
    clearTimeout(session.idleTimer);
    const work = this.runCell(session, cell, signal);
    this.running.add(work);
    try {
      return await work;
    } finally {
      this.running.delete(work);
    }
  }

  /** Ends the owner's session; false if it has none by that id. Its processes are gone when it resolves. */
  async delete(owner: string, id: string): Promise<boolean> {
    const session = this.open.get(id);
    if (session === undefined || session.owner !== owner) return false;
    await this.end(id, "deleted");
    return true;
  }

  /** At shutdown: no new session, cells in flight finish, then every session ends. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
    await Promise.allSettled([...this.open.keys()].map((id) => this.end(id, "shutdown")));
  }

  private async runCell(session: OpenSession, cell: Cell, signal: AbortSignal | undefined): Promise<SandboxOutcome> {
    const { id } = session.view;
    try {
      const admitted = await this.admitted(() => session.sandbox.runCell(cell), signal);
      if (!admitted.ok) return admitted;
      const { outcome, sessionEnded } = admitted.value;
      session.view = { ...session.view, lastUsedAt: this.now(), cells: session.view.cells + 1 };
      if (!sessionEnded) return outcome;
      await this.end(id, "cell");
      return outcome.ok ? outcome : err({ ...outcome.error, sessionEnded: true });
    } catch (cause) {
      this.deps.onInternalError?.(cause);
      return err(failure("INTERNAL", "Internal error", NO_OUTPUT));
    } finally {
      session.busy = false;
      if (this.open.get(id) === session) this.touch(session);
    }
  }

  /** Runs `work` holding a concurrency slot; BUSY or CANCELLED when none is granted. */
  private async admitted<T>(work: () => Promise<T>, signal?: AbortSignal): Promise<Result<T, ExecutionFailure>> {
    const admission = await this.deps.gate.acquire(signal);
    if (!admission.admitted) {
      if (admission.reason === "cancelled") return err(failure("CANCELLED", "The request was cancelled (its client went away): it was not run", NO_OUTPUT));
      const why = admission.reason === "queue-full" ? "all sandboxes are busy and the queue is full" : "no sandbox became free in time";
      return err(failure("BUSY", `Server busy: ${why}; retry later`, NO_OUTPUT, { retryAfterSeconds: this.deps.retryAfterSeconds }));
    }
    try {
      return ok(await work());
    } finally {
      admission.release();
    }
  }

  /** The idle timer restarts after each cell; a session expires at its idle timeout or its maximum age, whichever is first. */
  private touch(session: OpenSession): void {
    const { view } = session;
    clearTimeout(session.idleTimer);
    const idleAt = this.now() + view.idleTimeoutMs;
    session.view = { ...view, expiresAt: Math.min(idleAt, view.createdAt + this.deps.limits.maxAgeMs) };
    session.idleTimer = setTimeout(() => void this.end(view.id, "idle"), view.idleTimeoutMs);
  }

  private async end(id: string, reason: SessionEndReason, detail?: string): Promise<void> {
    const session = this.open.get(id);
    if (session === undefined) return;
    this.open.delete(id);
    clearTimeout(session.idleTimer);
    clearTimeout(session.ageTimer);
    this.deps.onEnded?.(reason, detail);
    await session.sandbox.end();
  }
}
