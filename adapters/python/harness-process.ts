import type { Readable, Writable } from "node:stream";
import { execa, type ResultPromise } from "execa";
import { beforeDeadline } from "../run/before-deadline.js";
import { DRAIN_GRACE_MS } from "../run/end-graces.js";
import { CappedBuffer } from "./capped-buffer.js";
import { encodeHarnessRequest, type HarnessReport, type HarnessRequest, parseHarnessReport } from "./harness-protocol.js";
import { READY_LINE, RESULT_FD } from "./protocol-facts.js";
import { openSession, type SessionLink, type SessionStreams } from "./session-link.js";

/** File descriptor a backend may ask for to collect its own log (nsjail's --log_fd). */
export const SANDBOX_LOG_FD = 4;

export interface HarnessProcessSpec {
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  readonly uid?: number;
  readonly gid?: number;
  readonly maxOutputBytes: number;
  /** The most the harness's report may be (maxReportBytes()); past it, it counts as malformed. */
  readonly maxReportBytes: number;
  /** The most the result itself may be, however the report came to be written. */
  readonly maxResultBytes: number;
  /** The harness was started with --preload and announces when it is ready. */
  readonly preload: boolean;
  /** Collect the backend's own log from SANDBOX_LOG_FD (never shown to the client). */
  readonly collectSandboxLog?: boolean;
  /** Kills the sandbox and everything it started outside a cgroup slot's reach; called at the deadline and after the harness exits. */
  readonly killAll: (pid: number) => Promise<void>;
}

/** How the harness process ended. */
export interface HarnessExit {
  readonly exitCode: number | null;
  readonly signal: string | null;
  /** It could not be started at all. */
  readonly startError?: string;
}

/** Everything observed about one finished harness process. */
export interface HarnessRun {
  readonly report: HarnessReport;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly timedOut: boolean;
  readonly stdout: CappedBuffer;
  readonly stderr: CappedBuffer;
  readonly sandboxLog: string;
  readonly startError?: string;
  /** From hand-over of the script to the harness's exit. */
  readonly durationMs: number;
}

const startsWith = (bytes: Uint8Array, prefix: Uint8Array): boolean => bytes.length >= prefix.length && prefix.every((byte, i) => bytes[i] === byte);

const SANDBOX_LOG_CAP_BYTES = 64 * 1024;
/** How long a discarded harness has to exit once killed. */
const EXIT_WAIT_MS = 5000;

/**
 * One started harness process. It may be started ahead of time (a pre-warmed sandbox) and
 * handed its single script later; the time limit counts from the hand-over.
 */
export class HarnessProcess {
  private readonly child: ResultPromise;
  private readonly stdout: CappedBuffer;
  private readonly stderr: CappedBuffer;
  private readonly sandboxLog = new CappedBuffer(SANDBOX_LOG_CAP_BYTES);
  private readonly reportBuffer: CappedBuffer;
  private readyLineSeen = false;
  private readonly readyWaiters: (() => void)[] = [];
  private readonly streamsDone: Promise<void>;
  /** Resolves when the harness process (nsjail, for a jail) has exited. */
  readonly ended: Promise<HarnessExit>;
  private exitedFlag = false;
  private handedOver = false;
  /** A session's: its output from the hand-over on. */
  private session: SessionStreams | undefined;
  /** The kills started so far, one after another; see killAll(). */
  private killing: Promise<void> = Promise.resolve();

  private constructor(private readonly spec: HarnessProcessSpec) {
    this.stdout = new CappedBuffer(spec.maxOutputBytes);
    this.stderr = new CappedBuffer(spec.maxOutputBytes);
    this.reportBuffer = new CappedBuffer(READY_LINE.length + spec.maxReportBytes);
    const stdio = spec.collectSandboxLog ? (["pipe", "pipe", "pipe", "pipe", "pipe"] as const) : (["pipe", "pipe", "pipe", "pipe"] as const);
    this.child = execa(spec.command, spec.args, {
      stdio,
      buffer: false,
      reject: false,
      env: { ...spec.env },
      extendEnv: false,
      cwd: spec.cwd,
      detached: true,
      cleanup: true,
      ...(spec.uid === undefined ? {} : { uid: spec.uid }),
      ...(spec.gid === undefined ? {} : { gid: spec.gid }),
    });
    const streams = this.child.stdio as unknown as (Readable | Writable | null)[];
    const collect = (index: number, sink: (chunk: Uint8Array) => void): Promise<void> => {
      const stream = streams[index] as Readable | null;
      if (!stream) return Promise.resolve();
      return new Promise((resolve) => {
        stream.on("data", (chunk: Buffer) => sink(chunk));
        stream.on("error", () => resolve());
        stream.on("close", () => resolve());
        stream.on("end", () => resolve());
      });
    };
    this.streamsDone = Promise.all([
      collect(1, (c) => (this.session ? this.session.stdout(c) : this.stdout.push(c))),
      collect(2, (c) => (this.session ? this.session.stderr(c) : this.stderr.push(c))),
      collect(RESULT_FD, (c) => (this.session ? this.session.report(c) : this.onReportBytes(c))),
      spec.collectSandboxLog ? collect(SANDBOX_LOG_FD, (c) => this.sandboxLog.push(c)) : Promise.resolve(),
    ]).then(() => undefined);
    // The harness's own exit ends the run, not the end of its pipes: a process the script left
    // behind may hold them open until killAll() reaches it, which only happens after the exit.
    const exited = new Promise<{ exitCode: number | null; signal: string | null }>((resolve) => {
      this.child.nodeChildProcess.once("exit", (exitCode, signal) => resolve({ exitCode, signal }));
    });
    const settled = this.child.then((result) => {
      const startError = result.failed && result.exitCode === undefined && !result.signal ? result.originalMessage || result.message : undefined;
      return {
        exitCode: result.exitCode ?? null,
        signal: result.signal ?? null,
        ...(startError ? { startError } : {}),
      };
    });
    this.ended = Promise.race([exited, settled]).then((ending) => {
      this.exitedFlag = true;
      this.wakeReadyWaiters();
      return ending;
    });
  }

  static start(spec: HarnessProcessSpec): HarnessProcess {
    return new HarnessProcess(spec);
  }

  /** The process died before it was handed a script (a broken pre-started sandbox). */
  get exited(): boolean {
    return this.exitedFlag;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Resolves once a --preload harness has imported its modules (or died trying). */
  ready(): Promise<void> {
    if (!this.spec.preload || this.readyLineSeen || this.exitedFlag) return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  private onReportBytes(chunk: Uint8Array): void {
    this.reportBuffer.push(chunk);
    if (this.spec.preload && !this.readyLineSeen && this.reportBuffer.bytes().includes(0x0a)) {
      this.readyLineSeen = true;
      this.wakeReadyWaiters();
    }
  }

  private wakeReadyWaiters(): void {
    for (const wake of this.readyWaiters.splice(0)) wake();
  }

  /** The report proper: what followed the ready line of a pre-started harness. */
  private report(): HarnessReport {
    if (this.reportBuffer.truncated) return { kind: "malformed" };
    const bytes = this.reportBuffer.bytes();
    if (!this.spec.preload) return parseHarnessReport(bytes, this.spec.maxResultBytes);
    const afterReady = startsWith(bytes, READY_LINE) ? bytes.subarray(READY_LINE.length) : bytes;
    return parseHarnessReport(afterReady, this.spec.maxResultBytes);
  }

  /**
   * Hands the harness its one script (see RunLifecycle for the rest of the run); or a session's
   * opening request, after which stdin stays open for its cells.
   */
  handOver(request: HarnessRequest, session?: SessionLink): void {
    if (this.handedOver) throw new Error("a harness process runs exactly one script");
    this.handedOver = true;
    const stdin = this.child.stdin;
    stdin?.on("error", () => undefined); // EPIPE when the harness is already gone
    if (session === undefined) {
      stdin?.end(encodeHarnessRequest(request));
      return;
    }
    this.session = openSession(stdin, encodeHarnessRequest(request), session);
  }

  /** Kills the sandbox and everything it started (the backend's killAll); see killAll(). */
  stop(): Promise<void> {
    return this.killAll();
  }

  /** What was observed of the run once it is over (or given up). */
  observed(end: { exit: HarnessExit | undefined; timedOut: boolean; durationMs: number }): HarnessRun {
    return {
      report: this.report(),
      exitCode: end.exit?.exitCode ?? null,
      signal: end.exit?.signal ?? null,
      timedOut: end.timedOut,
      stdout: this.stdout,
      stderr: this.stderr,
      sandboxLog: this.sandboxLog.text(),
      ...(end.exit?.startError ? { startError: end.exit.startError } : {}),
      durationMs: end.durationMs,
    };
  }

  /** Kills an unused pre-started sandbox (or one still running, at shutdown), waiting a while for it to exit. */
  async discard(): Promise<void> {
    this.handedOver = true;
    await this.killAll();
    // A process the kernel cannot end yet must not hold a shutdown: its slot says it is not gone.
    await beforeDeadline(this.ended, "", EXIT_WAIT_MS);
    await this.drain(DRAIN_GRACE_MS);
  }

  /**
   * Kills run one after another, and each caller waits for every kill started before it. The
   * timeout's kill may still be going when the harness exits; the run's own kill after the exit
   * must not end before it, or the uid is handed to the next run while that earlier kill still
   * sweeps the uid (or its cgroup slot) and kills the next run's processes.
   */
  private killAll(): Promise<void> {
    const pid = this.child.pid;
    if (pid === undefined) return this.killing;
    const kill = this.killing.then(() => this.spec.killAll(pid));
    this.killing = kill.catch(() => undefined);
    return kill;
  }

  /** Waits at most `graceMs` for the output streams to close, then stops reading them. */
  async drain(graceMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), graceMs);
    });
    const outcome = await Promise.race([this.streamsDone, grace]);
    clearTimeout(timer);
    if (outcome === "late") {
      for (const stream of this.child.stdio as unknown as (Readable | null)[]) stream?.destroy();
    }
  }
}
