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

export const SESSION_END_REASONS: readonly SessionEndReason[] = ["deleted", "idle", "max-age", "cell", "process", "shutdown"];

/** A session that has ended, for the server log (never its id: with API_KEYS unset, the id is all that guards it). */
export interface EndedSession {
  /** What the sandbox said of its end, when it ended on its own. */
  readonly detail?: string;
  readonly cells: number;
  readonly ageMs: number;
}

export interface SessionsDeps {
  readonly sandbox: SessionSandboxPort;
  /** Opening a session and running a cell take a concurrency slot; an idle session holds none. */
  readonly gate: AdmissionGate;
  readonly limits: SessionLimits;
  readonly retryAfterSeconds: number;
  /** A fresh id of at least 128 random bits, URL-safe. */
  readonly newId: () => string;
  readonly now?: () => number;
  readonly onEnded?: (reason: SessionEndReason, ended: EndedSession) => void;
  /** Told the details of a bug; the client only learns that there was one. */
  readonly onInternalError?: (cause: unknown) => void;
}

interface OpenSession {
  readonly owner: string;
  readonly sandbox: SandboxSession;
  view: SessionView;
  busy: boolean;
  /** Why it ended, once it has. */
  endedBy?: SessionEndReason;
  /** The sandbox ended on its own while a cell ran: what it said. */
  exitedWhileBusy?: string;
  idleTimer?: ReturnType<typeof setTimeout>;
  readonly ageTimer: ReturnType<typeof setTimeout>;
}

/** An id its owner has no session by (or another owner's: to them it does not exist). */
export const sessionNotFound = (id: string): ExecutionFailure =>
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
  /** Sessions being started, and ended ones whose sandbox is not gone yet: they count against maxSessions (each holds a uid). */
  private opening = 0;
  private ending = 0;
  private closed = false;
  private readonly running = new Set<Promise<unknown>>();
  private readonly now: () => number;

  constructor(private readonly deps: SessionsDeps) {
    this.now = deps.now ?? Date.now;
  }

  get count(): number {
    return this.open.size;
  }

  /** `signal`: aborted when whoever asked has gone; a session not yet waiting for its sandbox is then not started. */
  async create(owner: string, request: SessionRequest, signal?: AbortSignal): Promise<Result<SessionView, ExecutionFailure>> {
    const { limits, retryAfterSeconds } = this.deps;
    if (this.closed)
      return err(failure("SANDBOX_UNAVAILABLE", "The server is shutting down; open a session on another replica", NO_OUTPUT, { retryAfterSeconds }));
    if (this.open.size + this.opening + this.ending >= limits.maxSessions) {
      const message =
        limits.maxSessions === 0
          ? "This server keeps no sessions (MAX_SESSIONS is 0)"
          : `All ${limits.maxSessions} sessions this server keeps are open; end one or retry later`;
      return err(failure("SESSION_LIMIT", message, NO_OUTPUT, { retryAfterSeconds }));
    }
    this.opening++;
    try {
      const admitted = await this.admitted(
        () => this.deps.sandbox.openSession({ memoryMb: request.memoryMb, maxAgeMs: limits.maxAgeMs, files: request.files }),
        signal,
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
      sandbox.ended.then(
        (why) => this.exited(session, why),
        (cause: unknown) => this.exited(session, String(cause)),
      );
      if (this.closed) {
        await this.end(id, "shutdown");
        return err(failure("SANDBOX_UNAVAILABLE", "The server is shutting down; open a session on another replica", NO_OUTPUT, { retryAfterSeconds }));
      }
      return ok(session.view);
    } catch (cause) {
      this.deps.onInternalError?.(cause);
      return err(failure("INTERNAL", "Internal error", NO_OUTPUT));
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
    if (session === undefined || session.owner !== owner) return err(sessionNotFound(id));
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

  /**
   * At shutdown: no new session; cells in flight finish (unless `waitForCells` is false: then
   * they are stopped with their sessions), then every session ends. Resolves once their
   * sandboxes are gone.
   */
  async close(options: { readonly waitForCells?: boolean } = {}): Promise<void> {
    this.closed = true;
    if (options.waitForCells ?? true) while (this.running.size > 0) await Promise.allSettled([...this.running]);
    await Promise.allSettled([...this.open.keys()].map((id) => this.end(id, "shutdown")));
  }

  private async runCell(session: OpenSession, cell: Cell, signal: AbortSignal | undefined): Promise<SandboxOutcome> {
    const { id } = session.view;
    try {
      const admitted = await this.admitted(() => session.sandbox.runCell(cell), signal);
      if (!admitted.ok) return admitted;
      const { outcome, sessionEnded } = admitted.value;
      session.view = { ...session.view, lastUsedAt: this.now(), cells: session.view.cells + 1 };
      if (session.endedBy !== undefined) return this.endedUnder(session.endedBy, outcome);
      if (sessionEnded || session.exitedWhileBusy !== undefined) {
        await this.end(id, sessionEnded ? "cell" : "process", session.exitedWhileBusy);
        return outcome.ok ? outcome : err({ ...outcome.error, sessionEnded: true });
      }
      return outcome;
    } catch (cause) {
      this.deps.onInternalError?.(cause);
      return err(failure("INTERNAL", "Internal error", NO_OUTPUT));
    } finally {
      session.busy = false;
      if (this.open.get(id) === session) this.touch(session);
    }
  }

  /**
   * The answer of a cell whose session was ended from outside while it ran (deleted, at its
   * maximum age, at shutdown): what the cell printed, and why it stopped. A cell that finished
   * first keeps its success.
   */
  private endedUnder(reason: SessionEndReason, outcome: SandboxOutcome): SandboxOutcome {
    if (outcome.ok) return outcome;
    const { output, durationMs, artifacts } = outcome.error;
    const extra = { sessionEnded: true, ...(durationMs === undefined ? {} : { durationMs }), ...(artifacts === undefined ? {} : { artifacts }) };
    switch (reason) {
      case "max-age":
        return err(
          failure(
            "TIMEOUT",
            `The session reached its maximum age of ${this.deps.limits.maxAgeMs} ms while this cell ran: it has ended; start a new one`,
            output,
            extra,
          ),
        );
      case "shutdown":
        return err(
          failure("SANDBOX_UNAVAILABLE", "The server shut down while this cell ran, and its sessions with it; start a new one on another replica", output, {
            ...extra,
            retryAfterSeconds: this.deps.retryAfterSeconds,
          }),
        );
      default:
        return err(failure("SESSION_NOT_FOUND", "The session was ended while this cell ran; start a new one", output, extra));
    }
  }

  /** The sandbox ended on its own: between cells the session ends now, during one once the cell is answered. */
  private exited(session: OpenSession, why: string): void {
    if (this.open.get(session.view.id) !== session) return;
    if (session.busy) session.exitedWhileBusy = why;
    else void this.end(session.view.id, "process", why);
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

  /** Never throws: it also runs from timers, where nobody would hear it. */
  private async end(id: string, reason: SessionEndReason, detail?: string): Promise<void> {
    const session = this.open.get(id);
    if (session === undefined) return;
    this.open.delete(id);
    session.endedBy = reason;
    clearTimeout(session.idleTimer);
    clearTimeout(session.ageTimer);
    const { cells, createdAt } = session.view;
    this.deps.onEnded?.(reason, { ...(detail === undefined ? {} : { detail }), cells, ageMs: this.now() - createdAt });
    this.ending++;
    try {
      await session.sandbox.end();
    } catch (cause) {
      this.deps.onInternalError?.(cause);
    } finally {
      this.ending--;
    }
  }
}
