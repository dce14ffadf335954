import type { CellRequestBody, SessionCreatedBody } from "../openapi/schemas.js";
import { requestHeaders } from "./run-request.js";
import { type CellOutcome, readCellAnswer, startFailure } from "./session-answer.js";

/** fetch, as the session calls it (a fake in the unit tests). */
export type Fetch = (url: string, init: RequestInit) => Promise<Response>;

/** POST /sessions's 201, read without trusting more than its id. */
export type SessionInfo = Pick<SessionCreatedBody, "id"> & Partial<SessionCreatedBody>;

export type SessionState =
  /** No session yet (or restarted): the next run starts one. */
  | { readonly kind: "none" }
  | { readonly kind: "starting" }
  | { readonly kind: "open"; readonly session: SessionInfo }
  /** The service ended it, or no longer has it: the next run starts a new one. */
  | { readonly kind: "ended"; readonly reason: string };

/** How one run of a cell ended. */
export type CellRun =
  /** The service answered the cell: `count` is its number in the session (1 for the first cell run), as a notebook's In [n]. */
  | { readonly kind: "answered"; readonly outcome: CellOutcome; readonly status: number; readonly roundTripMs: number; readonly count: number }
  /** No session could be started (SESSION_LIMIT, a missing key, ...): the cell did not run. */
  | { readonly kind: "not-started"; readonly status: number; readonly message: string }
  /** Dropped before it ran: a restart, or the end of the session, came first. */
  | { readonly kind: "dropped"; readonly reason: string }
  /** Stopped waiting by a restart while it ran. */
  | { readonly kind: "interrupted" }
  | { readonly kind: "unreachable"; readonly message: string };

export const SESSION_GONE_REASON = "the service no longer has it (it was idle past its timeout, was ended, or the server restarted)";

const json = (apiKey: string): Record<string, string> => {
  const headers: Record<string, string> = { "content-type": "application/json" };
  const key = apiKey.trim();
  if (key !== "") headers.authorization = `Bearer ${key}`;
  return headers;
};

/**
 * The notebook's Python: a session of the service, started on the first run (POST /sessions),
 * its cells run one at a time in the order they were asked for (a cell asked for while another
 * runs waits for it: the service would answer 409 SESSION_BUSY), ended by restart() (DELETE).
 * When the service says the session is gone (404 SESSION_NOT_FOUND) or a cell ended it
 * (`"sessionEnded": true`), the cells still waiting are dropped and the next run starts a new one.
 */
export class NotebookSession {
  private current: SessionState = { kind: "none" };
  /** Runs are chained on this, one after the other. */
  private tail: Promise<unknown> = Promise.resolve();
  /** Bumped by a restart and by the session's end: the runs asked for before are dropped. */
  private generation = 0;
  private dropReason = "";
  private count = 0;
  private running: AbortController | undefined;

  constructor(
    private readonly fetch: Fetch,
    private readonly apiKey: () => string,
    private readonly onState: (state: SessionState) => void = () => {},
  ) {}

  get state(): SessionState {
    return this.current;
  }

  /** Runs `code` once the runs asked for before have ended; `onStart` is called when its turn comes. */
  run(code: string, onStart: () => void = () => {}): Promise<CellRun> {
    const generation = this.generation;
    const turn = this.tail.then(() => this.runNow(code, generation, onStart));
    this.tail = turn.catch(() => undefined);
    return turn;
  }

  /** Ends the session (the running cell stops waiting, the waiting ones are dropped); the next run starts a new one. */
  restart(): Promise<void> {
    this.drop("restarted before it ran");
    this.running?.abort();
    const id = this.current.kind === "open" ? this.current.session.id : undefined;
    this.setState({ kind: "none" });
    const ended = this.tail.then(() => (id === undefined ? undefined : this.end(id)));
    this.tail = ended;
    return ended;
  }

  /** The page is going away: ends the session without waiting (keepalive lets the request outlive the page). */
  leave(): void {
    if (this.current.kind !== "open") return;
    void this.fetch(`/sessions/${encodeURIComponent(this.current.session.id)}`, { method: "DELETE", headers: json(this.apiKey()), keepalive: true }).catch(
      () => undefined,
    );
  }

  private async runNow(code: string, generation: number, onStart: () => void): Promise<CellRun> {
    if (generation !== this.generation) return { kind: "dropped", reason: this.dropReason };
    onStart();
    const controller = new AbortController();
    this.running = controller;
    try {
      const started = await this.ensureSession(controller.signal);
      if (started.kind !== "open") return started.run;
      const startedAt = performance.now();
      const response = await this.fetch(`/sessions/${encodeURIComponent(started.id)}/execute`, {
        method: "POST",
        headers: requestHeaders(this.apiKey()),
        body: JSON.stringify({ code } satisfies CellRequestBody),
        signal: controller.signal,
      });
      const text = await response.text();
      const roundTripMs = performance.now() - startedAt;
      const outcome = readCellAnswer(response.status, text);
      if (outcome.kind !== "session-gone") this.count += 1;
      const count = this.count;
      if (outcome.kind === "session-gone") this.ended(SESSION_GONE_REASON);
      else if (outcome.kind === "failed" && outcome.sessionEnded) this.ended(`${outcome.body.code}: ${outcome.body.error}`);
      return { kind: "answered", outcome, status: response.status, roundTripMs, count };
    } catch (error) {
      if (controller.signal.aborted) return { kind: "interrupted" };
      return { kind: "unreachable", message: (error as Error).message };
    } finally {
      if (this.running === controller) this.running = undefined;
    }
  }

  /** The open session, started now when there is none. */
  private async ensureSession(signal: AbortSignal): Promise<{ kind: "open"; id: string } | { kind: "failed"; run: CellRun }> {
    if (this.current.kind === "open") return { kind: "open", id: this.current.session.id };
    const before = this.current;
    this.setState({ kind: "starting" });
    let response: Response;
    let text: string;
    try {
      response = await this.fetch("/sessions", { method: "POST", headers: json(this.apiKey()), body: "{}", signal });
      text = await response.text();
    } catch (error) {
      if (!signal.aborted) this.setState(before);
      throw error;
    }
    if (response.status !== 201) {
      this.setState(before);
      return {
        kind: "failed",
        run: { kind: "not-started", status: response.status, message: startFailure(response.status, text, response.headers.get("retry-after")) },
      };
    }
    let session: SessionInfo;
    try {
      session = JSON.parse(text) as SessionInfo;
    } catch {
      session = { id: "" };
    }
    if (typeof session.id !== "string" || session.id === "") {
      this.setState(before);
      return { kind: "failed", run: { kind: "not-started", status: response.status, message: "POST /sessions answered without a session id" } };
    }
    if (signal.aborted) {
      // Restarted while it started: this session is nobody's.
      void this.end(session.id);
      throw new Error("restarted");
    }
    this.count = 0;
    this.setState({ kind: "open", session });
    return { kind: "open", id: session.id };
  }

  private async end(id: string): Promise<void> {
    try {
      await this.fetch(`/sessions/${encodeURIComponent(id)}`, { method: "DELETE", headers: json(this.apiKey()) });
    } catch {
      // Forgotten all the same: the service ends a session left idle.
    }
  }

  private ended(reason: string): void {
    this.drop("the session ended before it ran");
    this.setState({ kind: "ended", reason });
  }

  private drop(reason: string): void {
    this.generation += 1;
    this.dropReason = reason;
  }

  private setState(state: SessionState): void {
    this.current = state;
    this.onState(state);
  }
}
