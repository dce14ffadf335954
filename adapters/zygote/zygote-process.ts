import { execa, type ResultPromise } from "execa";
import type { Readable, Writable } from "node:stream";
import { CappedBuffer } from "../python/capped-buffer.js";
import { firstChild } from "./host-pid.js";

/** Where the fork server says it is ready and reports failed forks (zygote.py). */
export const ZYGOTE_RESULT_FD = 3;
/** nsjail's own log. */
export const ZYGOTE_LOG_FD = 4;

export interface ZygoteSpec {
  /** nsjail, or what starts it (inside the fork server's cgroup). */
  readonly command: string;
  readonly args: readonly string[];
  /** The host directory bound into the jail, where each run's socket is made. */
  readonly channelsDir: string;
}

/** One fork order: the run's socket name in the channel directory and its uid/gid in the fork server's namespace. */
export interface ForkOrder {
  readonly run: string;
  readonly uid: number;
  readonly gid: number;
}

const LOG_CAP_BYTES = 64 * 1024;
const TERM_GRACE_MS = 500;

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * One fork server: nsjail running zygote.py, started once and asked for a child per run.
 * Its output (stdout, stderr and nsjail's log) is kept, capped, for the server log.
 */
export class ZygoteProcess {
  private readonly startedAt = performance.now();
  /** Runs forked so far. */
  forks = 0;
  /** Runs forked and not yet over. */
  inFlight = 0;
  private readonly child: ResultPromise;
  private readonly output = new CappedBuffer(LOG_CAP_BYTES);
  private replies = "";
  private readyResolved = false;
  private readonly readyPromise: Promise<void>;
  private readonly failedForks = new Map<string, (reason: string) => void>();
  private exitedFlag = false;
  private pythonPidValue: number | undefined;
  /** Resolves when nsjail has exited, and with it the fork server and every run it forked. */
  readonly exited: Promise<void>;

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
    for (const index of [1, 2, ZYGOTE_LOG_FD]) {
      const stream = streams[index] as Readable | null;
      stream?.on("data", (chunk: Buffer) => this.output.push(chunk));
      stream?.on("error", () => undefined);
    }
    this.child.stdin?.on("error", () => undefined);
    const replies = streams[ZYGOTE_RESULT_FD] as Readable | null;
    replies?.on("error", () => undefined);
    this.exited = new Promise<void>((resolve) => {
      this.child.nodeChildProcess.once("exit", () => resolve());
      void this.child.then(() => resolve());
    }).then(() => {
      this.exitedFlag = true;
      for (const fail of this.failedForks.values()) fail("the fork server exited");
      this.failedForks.clear();
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
    this.pythonPidValue ??= this.child.pid === undefined ? undefined : await firstChild(this.child.pid);
  }

  /** Milliseconds since it was started. */
  get age(): number {
    return performance.now() - this.startedAt;
  }

  get alive(): boolean {
    return !this.exitedFlag && (this.pythonPidValue === undefined || isAlive(this.pythonPidValue));
  }

  /** The fork server's interpreter as the server sees it (the parent of every run's supervisor): nsjail's child. */
  get pythonPid(): number | undefined {
    return this.pythonPidValue;
  }

  /**
   * Asks for a child for this run. `lost` resolves with a reason if the fork failed or the fork
   * server exited before the run called `done()`.
   */
  fork(order: ForkOrder): { lost: Promise<string>; done: () => void } {
    this.forks++;
    this.inFlight++;
    const lost = new Promise<string>((resolve) => {
      if (this.exitedFlag) resolve("the fork server exited");
      else this.failedForks.set(order.run, resolve);
    });
    this.child.stdin?.write(`${JSON.stringify(order)}\n`);
    let done = false;
    return {
      lost,
      done: () => {
        if (done) return;
        done = true;
        this.failedForks.delete(order.run);
        this.inFlight--;
      },
    };
  }

  /** Everything the fork server and nsjail wrote, capped (for the server log). */
  log(): string {
    return this.output.text();
  }

  /** Stops the fork server (and every run it still has): SIGTERM to nsjail, SIGKILL if it lingers. */
  async kill(): Promise<void> {
    const pid = this.child.pid;
    if (pid !== undefined && !this.exitedFlag) {
      process.kill(pid, "SIGTERM");
      const late = setTimeout(() => {
        if (!this.exitedFlag) process.kill(pid, "SIGKILL");
      }, TERM_GRACE_MS);
      await this.exited;
      clearTimeout(late);
    }
    await this.exited;
  }

  private onReply(line: string, ready: () => void): void {
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    if (message.status === "ready" && !this.readyResolved) {
      this.readyResolved = true;
      ready();
    } else if (typeof message.run === "string") {
      this.failedForks.get(message.run)?.(`the fork failed: ${String(message.error)}`);
    }
  }
}
