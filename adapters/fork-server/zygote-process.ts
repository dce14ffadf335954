import type { Readable, Writable } from "node:stream";
import { execa, type ResultPromise } from "execa";
import { NSJAIL_TERM_GRACE_MS } from "../nsjail/nsjail-binary.js";
import { CappedBuffer } from "../python/capped-buffer.js";
import { SANDBOX_LOG_FD } from "../python/harness-process.js";
import { READY_TEXT, RESULT_FD } from "../python/protocol-facts.js";
import { firstChild, namespaceChildren } from "./host-pid.js";

// The fork server's result channel (where it says it is ready and reports its runs, sandbox_harness/fork_server.py)
// is the harness's RESULT_FD; nsjail's own log is SANDBOX_LOG_FD, as in a jail per run.

export interface ZygoteSpec {
  /** nsjail, or what starts it (inside the fork server's cgroup). */
  readonly command: string;
  readonly args: readonly string[];
  /** The host directory bound into the jail, where each run's socket is made. */
  readonly channelsDir: string;
}

/**
 * One fork order: the run's socket name in the channel directory and its uid/gid in the fork
 * server's namespace; `bare` forks it from the interpreter that imported none of the preloaded modules.
 */
export interface ForkOrder {
  readonly run: string;
  readonly uid: number;
  readonly gid: number;
  readonly bare?: boolean;
}

/** A run's pid in the fork server's pid namespace, and its parent's there when that is the bare fork server. */
export interface ForkedPid {
  readonly pid: number;
  readonly parent?: number;
}

/** How a forked run's process ended, as the fork server reaped it; lost when it could not tell. */
export type RunExit =
  | { readonly kind: "exited"; readonly exitCode: number }
  | { readonly kind: "signalled"; readonly signal: number }
  | { readonly kind: "lost"; readonly reason: string };

/** One run asked of the fork server. */
export interface ForkedRun {
  /** The run's pid in the fork server's pid namespace, or why there is none (the fork failed, the fork server exited). */
  readonly forked: Promise<ForkedPid | { readonly lost: string }>;
  /** Once the run's process is reaped, with every process of its pid namespace. */
  readonly ended: Promise<RunExit>;
  /** Asks the fork server to kill the run's process, and with it everything the run started. */
  kill(): void;
  /** The run is over for the server: it no longer counts against the fork server. */
  done(): void;
}

interface PendingRun {
  forked(outcome: ForkedPid | { lost: string }): void;
  ended(exit: RunExit): void;
}

const LOG_CAP_BYTES = 64 * 1024;

/**
 * One fork server: nsjail running sandbox_harness/fork_server.py, started once and asked for a child per run.
 * Its output (stdout, stderr and nsjail's log) is kept, capped, for the server log.
 */
export class ZygoteProcess {
  private readyAt: number | undefined;
  /** Runs forked so far. */
  forks = 0;
  /** Runs forked and not yet over. */
  inFlight = 0;
  private readonly child: ResultPromise;
  private readonly output = new CappedBuffer(LOG_CAP_BYTES);
  private replies = "";
  private readyResolved = false;
  private readonly readyPromise: Promise<void>;
  private readonly runs = new Map<string, PendingRun>();
  private exitedFlag = false;
  private pythonPidValue: number | undefined;
  private barePid: number | undefined;
  /** Each fork server's finder of its children (the preloaded one's and the bare one's). */
  private readonly childFinders = new Map<number, (nsPid: number) => number | undefined>();
  /** Resolves when nsjail has exited, and with it the fork server and every run it forked. */
  readonly exited: Promise<void>;
  /** Resolves once it takes no new run: retired, or exited. */
  readonly unusable: Promise<void>;
  private retiredFlag = false;
  private markRetired!: () => void;
  /** Pings not yet answered, by number. */
  private readonly pings = new Map<number, (answered: boolean) => void>();
  private pingCount = 0;

  private constructor(readonly spec: ZygoteSpec) {
    this.child = execa(spec.command, spec.args, {
      stdio: ["pipe", "pipe", "pipe", "pipe", "pipe"],
      buffer: false,
      reject: false,
      env: {},
      extendEnv: false,
      cwd: "/",
      detached: true,
      cleanup: true,
    });
    const streams = this.child.stdio as unknown as (Readable | Writable | null)[];
    for (const index of [1, 2, SANDBOX_LOG_FD]) {
      const stream = streams[index] as Readable | null;
      stream?.on("data", (chunk: Buffer) => this.output.push(chunk));
      stream?.on("error", () => undefined);
    }
    this.child.stdin?.on("error", () => undefined);
    const replies = streams[RESULT_FD] as Readable | null;
    replies?.on("error", () => undefined);
    this.exited = new Promise<void>((resolve) => {
      this.child.nodeChildProcess.once("exit", () => resolve());
      void this.child.then(() => resolve());
    }).then(() => {
      this.exitedFlag = true;
      for (const run of this.runs.values()) {
        run.forked({ lost: "the fork server exited" });
        run.ended({ kind: "lost", reason: "the fork server exited" });
      }
      this.runs.clear();
    });
    const retired = new Promise<void>((resolve) => (this.markRetired = resolve));
    this.unusable = Promise.race([retired, this.exited]);
    void this.exited.then(() => {
      for (const answer of this.pings.values()) answer(false);
      this.pings.clear();
    });
    this.readyPromise = new Promise<void>((resolve, reject) => {
      replies?.on("data", (chunk: Buffer) => {
        this.replies += chunk.toString("utf8");
        for (let newline = this.replies.indexOf("\n"); newline >= 0; newline = this.replies.indexOf("\n")) {
          const line = this.replies.slice(0, newline);
          this.replies = this.replies.slice(newline + 1);
          this.onReply(line, resolve);
        }
      });
      void this.exited.then(() => reject(new Error(`the fork server exited before it was ready:\n${this.log()}`)));
    });
    this.readyPromise.catch(() => undefined);
  }

  static start(spec: ZygoteSpec): ZygoteProcess {
    return new ZygoteProcess(spec);
  }

  /** Resolves once the preloaded modules are imported; rejects if the fork server died first. */
  async ready(): Promise<void> {
    await this.readyPromise;
    this.readyAt ??= performance.now();
    this.pythonPidValue ??= this.child.pid === undefined ? undefined : firstChild(this.child.pid);
  }

  /** Milliseconds since it was ready: since it could fork its first run. */
  get age(): number {
    return this.readyAt === undefined ? 0 : performance.now() - this.readyAt;
  }

  get alive(): boolean {
    return !this.exitedFlag;
  }

  /** The fork server's interpreter as the server sees it (the parent of every run's process but the bare ones): nsjail's child. */
  get pythonPid(): number | undefined {
    return this.pythonPidValue;
  }

  /** A run's process as the server sees it, to move into its cgroup; undefined when it is not the child it should be. */
  hostPid(forked: ForkedPid): number | undefined {
    const preloaded = this.pythonPid;
    if (preloaded === undefined) return undefined;
    if (forked.parent === undefined) return this.childOf(preloaded, forked.pid);
    // The bare fork server, the preloaded one's child, is the same process for as long as the preloaded one lives.
    this.barePid ??= this.childOf(preloaded, forked.parent);
    return this.barePid === undefined ? undefined : this.childOf(this.barePid, forked.pid);
  }

  private childOf(parent: number, nsPid: number): number | undefined {
    let find = this.childFinders.get(parent);
    if (find === undefined) {
      find = namespaceChildren(parent);
      if (find === undefined) return undefined;
      this.childFinders.set(parent, find);
    }
    return find(nsPid);
  }

  /** Asks for a run's process. */
  fork(order: ForkOrder): ForkedRun {
    this.forks++;
    this.inFlight++;
    let forkedResolve!: PendingRun["forked"];
    let endedResolve!: PendingRun["ended"];
    const forked = new Promise<ForkedPid | { lost: string }>((resolve) => (forkedResolve = resolve));
    const ended = new Promise<RunExit>((resolve) => (endedResolve = resolve));
    const pending: PendingRun = { forked: forkedResolve, ended: endedResolve };
    if (this.exitedFlag) {
      pending.forked({ lost: "the fork server exited" });
      pending.ended({ kind: "lost", reason: "the fork server exited" });
    } else {
      this.runs.set(order.run, pending);
      this.child.stdin?.write(`${JSON.stringify(order)}\n`);
    }
    let done = false;
    return {
      forked,
      ended,
      kill: () => {
        if (!done && !this.exitedFlag) this.child.stdin?.write(`${JSON.stringify({ kill: order.run })}\n`);
      },
      done: () => {
        if (done) return;
        done = true;
        this.runs.delete(order.run);
        this.inFlight--;
      },
    };
  }

  /** It takes no new run (its runs in flight go on). */
  retire(): void {
    this.retiredFlag = true;
    this.markRetired();
  }

  get retired(): boolean {
    return this.retiredFlag;
  }

  /** Asks the fork server whether it still reads its orders: whether it answers within `withinMs`. */
  answers(withinMs: number): Promise<boolean> {
    if (this.exitedFlag) return Promise.resolve(false);
    const ping = ++this.pingCount;
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => answer(false), withinMs);
      const answer = (answered: boolean) => {
        clearTimeout(timer);
        this.pings.delete(ping);
        resolve(answered);
      };
      this.pings.set(ping, answer);
      this.child.stdin?.write(`${JSON.stringify({ ping })}\n`);
    });
  }

  /** Everything the fork server and nsjail wrote, capped (for the server log). */
  log(): string {
    return this.output.text();
  }

  /** Stops the fork server (and every run it still has): SIGTERM to nsjail, SIGKILL if it lingers. */
  async kill(): Promise<void> {
    const pid = this.child.pid;
    if (pid !== undefined && !this.exitedFlag) {
      signal(pid, "SIGTERM");
      const late = setTimeout(() => {
        if (!this.exitedFlag) signal(pid, "SIGKILL");
      }, NSJAIL_TERM_GRACE_MS);
      await this.exited;
      clearTimeout(late);
    }
    await this.exited;
  }

  private onReply(line: string, ready: () => void): void {
    if (line === READY_TEXT && !this.readyResolved) {
      this.readyResolved = true;
      ready();
      return;
    }
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    if (typeof message.pong === "number") {
      this.pings.get(message.pong)?.(true);
      return;
    }
    const run = typeof message.run === "string" ? this.runs.get(message.run) : undefined;
    if (run === undefined) return;
    if (typeof message.pid === "number") {
      run.forked({ pid: message.pid, ...(typeof message.parent === "number" ? { parent: message.parent } : {}) });
    } else if (typeof message.exitCode === "number") {
      run.ended({ kind: "exited", exitCode: message.exitCode });
    } else if (typeof message.signal === "number") {
      run.ended({ kind: "signalled", signal: message.signal });
    } else {
      const reason = `the fork failed: ${String(message.error)}`;
      run.forked({ lost: reason });
      run.ended({ kind: "lost", reason });
    }
  }
}

/** A signal to nsjail, which may have exited (ESRCH) before its exit event arrived. */
function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone: its exit event follows.
  }
}
