import { SharedRun } from "./shared-run.js";

/** An answer as it is given again: its status, headers and body. */
export interface RememberedAnswer {
  readonly status: number;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Uint8Array;
}

export interface IdempotencyLimits {
  /** How long an answer is remembered once it has been given. */
  readonly windowMs: number;
  /** Keys remembered at most, running or answered; a new one makes the oldest forgotten. */
  readonly maxKeys: number;
  /** Bytes of answers remembered at most; past it the oldest answers are forgotten. */
  readonly maxBytes: number;
}

interface Running {
  readonly state: "running";
  readonly scope: string;
  readonly fingerprint: string;
  readonly firstRequestId: string;
  readonly run: SharedRun;
  readonly answer: Promise<RememberedAnswer>;
}

interface Answered {
  readonly state: "answered";
  readonly scope: string;
  readonly fingerprint: string;
  readonly firstRequestId: string;
  readonly answer: RememberedAnswer;
  readonly bytes: number;
  readonly expiresAt: number;
}

type Entry = Running | Answered;

/** What a request with a key is to do. */
export type Claim =
  /** Nothing is remembered for the key: run the request on `run.signal`, then settle its answer (or fail, if there is none). */
  | {
      readonly kind: "first";
      readonly run: SharedRun;
      readonly settle: (answer: RememberedAnswer, remember: boolean) => void;
      readonly fail: (error: unknown) => void;
    }
  /** The first request with the key and body is still running: wait for its answer. */
  | { readonly kind: "running"; readonly firstRequestId: string; readonly run: SharedRun; readonly answer: Promise<RememberedAnswer> }
  /** The first request with the key and body was answered so. */
  | { readonly kind: "answered"; readonly firstRequestId: string; readonly answer: RememberedAnswer }
  /** The key was sent with another body. */
  | { readonly kind: "mismatch"; readonly firstRequestId: string };

const textBytes = (text: string): number => Buffer.byteLength(text, "utf8");

/** What an answer holds in memory, as counted against `maxBytes`: its body, its headers and its key. */
const sizeOf = (key: string, answer: RememberedAnswer): number =>
  answer.body.byteLength + textBytes(key) + answer.headers.reduce((sum, [name, value]) => sum + textBytes(name) + textBytes(value), 0);

/**
 * The requests sent with an Idempotency-Key, by scope (the API key, as the caller names it) and
 * key: the one running, then its answer for `windowMs`. Answers are bounded by `maxKeys` and
 * `maxBytes`, oldest forgotten first, and a forgotten key is as one never sent; but a scope that
 * holds half of either bound forgets its own oldest, so that one client's new keys cannot push
 * out every other client's answers. Running requests are never forgotten: admission bounds how
 * many there are. Answers are in the order they were given, so the expired ones are at the
 * front, and are dropped there as keys are claimed.
 */
export class IdempotencyStore {
  private readonly entries = new Map<string, Entry>();
  private answerBytes = 0;
  /** Answers and their bytes per scope. */
  private readonly held = new Map<string, { answers: number; bytes: number }>();
  private readonly now: () => number;
  private readonly onForgotten: () => void;

  constructor(
    private readonly limits: IdempotencyLimits,
    options: { readonly now?: () => number; readonly onForgotten?: () => void } = {},
  ) {
    this.now = options.now ?? (() => performance.now());
    this.onForgotten = options.onForgotten ?? (() => {});
  }

  /** Keys remembered now, running or answered. */
  get keys(): number {
    return this.entries.size;
  }

  /** Bytes of the answers remembered now. */
  get bytes(): number {
    return this.answerBytes;
  }

  /**
   * What the request `requestId`, sent with `key` and a body of `fingerprint`, is to do. A key
   * whose run was cancelled (every client of it gone) is claimed anew: its answer, CANCELLED,
   * would reach no one.
   */
  claim(key: string, fingerprint: string, requestId: string, scope = ""): Claim {
    this.dropExpired();
    key = `${scope}\n${key}`;
    const entry = this.entries.get(key);
    if (entry && !(entry.state === "running" && entry.run.cancelled)) {
      if (entry.fingerprint !== fingerprint) return { kind: "mismatch", firstRequestId: entry.firstRequestId };
      if (entry.state === "answered") return { kind: "answered", firstRequestId: entry.firstRequestId, answer: entry.answer };
      return { kind: "running", firstRequestId: entry.firstRequestId, run: entry.run, answer: entry.answer };
    }
    if (entry !== undefined) this.remove(key, entry);
    while (this.entries.size >= this.limits.maxKeys && this.forgetOldestAnswer(scope, (held) => held.answers >= this.limits.maxKeys / 2)) {}
    const { promise, resolve, reject } = Promise.withResolvers<RememberedAnswer>();
    // A failure no repeat waits for is no unhandled rejection.
    promise.catch(() => {});
    const running: Running = { state: "running", scope, fingerprint, firstRequestId: requestId, run: new SharedRun(), answer: promise };
    this.entries.set(key, running);
    return {
      kind: "first",
      run: running.run,
      settle: (answer, remember) => {
        resolve(answer);
        this.settle(key, running, answer, remember);
      },
      fail: (error) => {
        reject(error);
        if (this.entries.get(key) === running) this.entries.delete(key);
      },
    };
  }

  /** The run of `running` gave `answer`: remembered when asked and while the key is still its (not forgotten or claimed anew). */
  private settle(key: string, running: Running, answer: RememberedAnswer, remember: boolean): void {
    if (this.entries.get(key) !== running) return;
    this.entries.delete(key);
    if (!remember) return;
    const bytes = sizeOf(key, answer);
    if (bytes > this.limits.maxBytes) {
      this.onForgotten();
      return;
    }
    const { scope, fingerprint, firstRequestId } = running;
    this.entries.set(key, { state: "answered", scope, fingerprint, firstRequestId, answer, bytes, expiresAt: this.now() + this.limits.windowMs });
    this.answerBytes += bytes;
    const held = this.heldBy(scope);
    held.answers++;
    held.bytes += bytes;
    while (this.answerBytes > this.limits.maxBytes && this.forgetOldestAnswer(scope, (mine) => mine.bytes >= this.limits.maxBytes / 2)) {}
  }

  private heldBy(scope: string): { answers: number; bytes: number } {
    const held = this.held.get(scope) ?? { answers: 0, bytes: 0 };
    this.held.set(scope, held);
    return held;
  }

  private dropExpired(): void {
    const now = this.now();
    for (const [key, entry] of this.entries) {
      if (entry.state === "running") continue;
      if (entry.expiresAt > now) return;
      this.remove(key, entry);
    }
  }

  /**
   * Forgets, before its time, the oldest answer: of `scope` itself when it holds its share
   * (`atShare`), else anyone's. False when there is no answer to forget.
   */
  private forgetOldestAnswer(scope: string, atShare: (held: { answers: number; bytes: number }) => boolean): boolean {
    const ownOnly = atShare(this.held.get(scope) ?? { answers: 0, bytes: 0 });
    for (const [key, entry] of this.entries) {
      if (entry.state !== "answered" || (ownOnly && entry.scope !== scope)) continue;
      this.remove(key, entry);
      this.onForgotten();
      return true;
    }
    return false;
  }

  private remove(key: string, entry: Entry): void {
    this.entries.delete(key);
    if (entry.state !== "answered") return;
    this.answerBytes -= entry.bytes;
    const held = this.heldBy(entry.scope);
    held.answers--;
    held.bytes -= entry.bytes;
    if (held.answers === 0) this.held.delete(entry.scope);
  }
}
