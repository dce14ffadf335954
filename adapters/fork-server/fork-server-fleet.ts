import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { message } from "../cgroups/cgroup-preparation.js";
import { type CgroupSlot, ioLimitOf, joinSlotArgv, SLOT_EMPTY_WAIT_MS } from "../cgroups/cgroup-slots.js";
import { jailEnvironment, type NsjailSandboxOptions } from "../nsjail/nsjail-sandbox.js";
import {
  allowing,
  type ChildSeccompRule,
  childSeccompRules,
  parseSeccompPolicy,
  renderKafel,
  seccompStrings,
  withoutSeccompStrings,
} from "../nsjail/seccomp-policy.js";
import { SANDBOX_LOG_FD } from "../python/harness-process.js";
import { RESULT_FD } from "../python/protocol-facts.js";
import { PYTHON_FLAGS } from "../python/script-environment.js";
import { beforeDeadline } from "../run/before-deadline.js";
import { RunLeases } from "../run/run-leases.js";
import { SANDBOX_UID_COUNT, SandboxUids } from "../run/sandbox-uids.js";
import { buildZygoteArgv, ZYGOTE_ALLOWED_SYSCALLS } from "./zygote-argv.js";
import { ZygoteProcess } from "./zygote-process.js";

/**
 * The top of the sandbox uid range is for the fork servers themselves; their runs get the rest.
 * The fork servers of every server process on the host draw from it (a live one and its successor
 * each): a dev server beside parallel test workers needs more than a handful.
 */
export const FORK_SERVER_UID_COUNT = 32;
export const DEFAULT_MAX_FORKS = 10_000;
export const DEFAULT_MAX_AGE_MS = 15 * 60 * 1000;
/** A fork server's own cgroup: the interpreter with numpy and pandas, and its children until each is moved into its run's. */
const FORK_SERVER_SLOT = { memoryMb: 1024, maxPids: 1024, cpuCores: availableParallelism() };
/** From a fork server's start to its "ready": its imports take tens of seconds on an emulated or crowded CPU. */
const READY_TIMEOUT_MS = 180_000;
/** How long a fork server has to answer when asked whether it still reads its orders. */
const ANSWER_TIMEOUT_MS = 10_000;
/** How many fork servers one run may see replaced before it is refused instead. */
const MAX_REPLACEMENTS_PER_RUN = 2;
/** A fork server's successor is started when it has used this share of its runs or its time. */
const NEARLY = 0.9;

export type ForkServerFleetOptions = Omit<NsjailSandboxOptions, "maxTimeoutMs" | "memoryLimitMb" | "endGraceMs"> & {
  /** A fork server is replaced after this many runs. */
  readonly maxForks?: number;
  /** A fork server is replaced after this long. */
  readonly maxAgeMs?: number;
  /** Each uid's cgroup slot. */
  readonly slots: (uid: number) => CgroupSlot;
  /** The host uids runs are forked under, as the fork server maps them. */
  readonly runUids: { readonly first: number; readonly count: number };
};

/**
 * The fork servers of one sandbox: the one new runs go to, its successor (started when it is
 * nearly spent, so that no run waits for imports), and the retired ones that finish their runs.
 * A fork server is retired after `maxForks` runs, `maxAgeMs`, when it dies, when a run could not
 * be started from it, and when it does not answer once asked.
 */
export class ForkServerFleet {
  private readonly leases: RunLeases;
  private readonly workDir: string;
  /** What every fork server is started with, derived from nsjail.cfg when the first one starts. */
  private policy: { configPath: string; zygoteSeccomp: string; childSeccomp: ChildSeccompRule[] } | undefined;
  private readonly maxForks: number;
  private readonly maxAgeMs: number;
  /** The fork server new runs go to. */
  private current: Promise<ZygoteProcess> | undefined;
  /** Its successor, started when it is nearly spent. */
  private next: Promise<ZygoteProcess> | undefined;
  /** Every fork server not yet exited. */
  private readonly live = new Set<ZygoteProcess>();
  /** Work no request waits for (a take-over): close() waits for it. */
  private readonly pending = new Set<Promise<void>>();
  private count = 0;
  private closed = false;

  constructor(private readonly options: ForkServerFleetOptions) {
    const log = (text: string) => options.onSandboxLog(text, { code: "SANDBOX_UNAVAILABLE" });
    this.leases = new RunLeases({
      uids: new SandboxUids(options.uidBase + SANDBOX_UID_COUNT - FORK_SERVER_UID_COUNT, FORK_SERVER_UID_COUNT),
      slots: options.slots,
      uidsStayHeld: false,
      onStuck: log,
    });
    this.maxForks = options.maxForks ?? DEFAULT_MAX_FORKS;
    this.maxAgeMs = options.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
    this.workDir = mkdtempSync(join(tmpdir(), "pyexec-zygote-"));
    // nsjail binds each fork server's channel directory from inside its user namespace, as that
    // fork server's uid: the path must be passable, though not listable.
    chmodSync(this.workDir, 0o711);
  }

  /**
   * The fork server new runs go to, ready. A spent, dead or retired one is replaced (by its
   * successor, started in the background once it was nearly spent, so no run waits for imports).
   */
  async ready(): Promise<ZygoteProcess> {
    for (let replaced = 0; ; replaced++) {
      if (this.closed) throw new Error("the sandbox is shut down");
      // A spent one and its successor are normal; more means each new one is unusable as soon
      // as it is ready, and starting another would only repeat its imports, for good.
      if (replaced > MAX_REPLACEMENTS_PER_RUN) throw new Error(`${replaced} fork servers in a row were unusable as soon as they were ready`);
      if (this.current === undefined) {
        this.current = this.next ?? this.start();
        this.next = undefined;
      }
      const pending = this.current;
      let zygote: ZygoteProcess;
      try {
        zygote = await pending;
      } catch (error) {
        if (this.current === pending) this.current = undefined;
        throw error;
      }
      if (this.usable(zygote)) {
        if (this.nearlySpent(zygote) && this.next === undefined && !this.closed) this.startSuccessor();
        return zygote;
      }
      if (this.current === pending) this.current = undefined;
      this.retire(zygote);
    }
  }

  /** Whether it may take a new run. */
  usable(zygote: ZygoteProcess): boolean {
    return zygote.alive && !zygote.retired && zygote.forks < this.maxForks && zygote.age < this.maxAgeMs;
  }

  /** No new run goes to this fork server; it is stopped as soon as no run of it is left. */
  retire(zygote: ZygoteProcess): void {
    zygote.retire();
    this.stopIfIdle(zygote);
  }

  /** A run of this fork server is over: a spent one is retired, and stopped once idle. */
  runOver(zygote: ZygoteProcess): void {
    if (!this.usable(zygote)) this.retire(zygote);
    else this.stopIfIdle(zygote);
  }

  /**
   * A run of this fork server could not be reaped in time: the fork server is asked whether it
   * still reads its orders. One that answers is kept (its child is the kernel's to finish); one
   * that does not is stopped, which ends its runs.
   */
  ask(zygote: ZygoteProcess): void {
    void zygote.answers(ANSWER_TIMEOUT_MS).then(async (answered) => {
      if (answered) {
        this.options.onSandboxLog("a run's process was not reaped in time; the fork server answered and is kept", { code: "TIMEOUT" });
        return;
      }
      if (!zygote.alive) return;
      this.options.onSandboxLog(`the fork server did not answer within ${ANSWER_TIMEOUT_MS} ms: stopped\n${zygote.log()}`, { code: "SANDBOX_UNAVAILABLE" });
      zygote.retire();
      await zygote.kill();
    });
  }

  /** Stops every fork server, and with them every run still going. */
  async close(): Promise<void> {
    this.closed = true;
    this.current = undefined;
    this.next = undefined;
    await Promise.all([...this.live].map((zygote) => zygote.kill()));
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /** After close(): a last look at stuck slots, and the work dir removed. */
  closeLeases(): void {
    this.leases.close();
    rmSync(this.workDir, { recursive: true, force: true });
  }

  private stopIfIdle(zygote: ZygoteProcess): void {
    if (zygote.retired && zygote.inFlight === 0) zygote.kill().catch(() => undefined);
  }

  private nearlySpent(zygote: ZygoteProcess): boolean {
    return zygote.forks >= this.maxForks * NEARLY || zygote.age >= this.maxAgeMs * NEARLY;
  }

  private startSuccessor(): void {
    const next = this.start();
    this.next = next;
    next.catch((error: unknown) => {
      if (this.next === next) this.next = undefined;
      this.options.onSandboxLog(message(error), { code: "SANDBOX_UNAVAILABLE" });
    });
  }

  /**
   * The fork server's policy: nsjail.cfg without its seccomp policy, which goes on the command
   * line without what the fork server needs to build its runs' namespaces; every run installs
   * the whole of it again.
   */
  private derivedPolicy(): NonNullable<ForkServerFleet["policy"]> {
    if (this.policy === undefined) {
      const config = readFileSync(this.options.configPath, "utf8");
      const rules = parseSeccompPolicy(seccompStrings(config).join("\n"));
      const configPath = join(this.workDir, "nsjail.cfg");
      writeFileSync(configPath, withoutSeccompStrings(config));
      this.policy = { configPath, zygoteSeccomp: renderKafel(allowing(rules, ZYGOTE_ALLOWED_SYSCALLS)), childSeccomp: childSeccompRules(rules) };
    }
    return this.policy;
  }

  private async start(): Promise<ZygoteProcess> {
    const policy = this.derivedPolicy();
    const lease = await this.leases.leaseWithSlot({ ...FORK_SERVER_SLOT, ...ioLimitOf(this.options.ioMbPerSec) });
    const channelsDir = join(this.workDir, `zygote-${++this.count}`);
    try {
      mkdirSync(channelsDir, { mode: 0o700 });
      chownSync(channelsDir, lease.uid, lease.uid);
    } catch (error) {
      rmSync(channelsDir, { recursive: true, force: true });
      this.leases.release(lease);
      throw error;
    }
    const { runtime } = this.options;
    const zygote = ZygoteProcess.start({
      ...joinSlotArgv(
        lease.slot.procsFiles,
        this.options.nsjailBin,
        buildZygoteArgv({
          configPath: policy.configPath,
          pythonExecutable: runtime.pythonBin,
          venvDir: runtime.venvDir,
          harnessDir: runtime.harnessDir,
          preloadModules: this.options.preloadModules,
          pythonFlags: PYTHON_FLAGS,
          env: jailEnvironment(this.options.serverEnv),
          zygoteUid: lease.uid,
          runUids: this.options.runUids,
          channelsDir,
          seccompPolicy: policy.zygoteSeccomp,
          childSeccomp: policy.childSeccomp,
          logFd: SANDBOX_LOG_FD,
          resultFd: RESULT_FD,
        }),
      ),
      channelsDir,
    });
    this.live.add(zygote);
    void zygote.exited.then(async () => {
      // A slot that is still not empty then keeps its uid out of use (the quarantine says so).
      await lease.slot.emptied(SLOT_EMPTY_WAIT_MS);
      this.live.delete(zygote);
      try {
        rmSync(channelsDir, { recursive: true, force: true });
      } catch (error) {
        this.options.onSandboxLog(`a fork server's channel directory could not be removed: ${message(error)}`, { code: "SANDBOX_UNAVAILABLE" });
      }
      this.leases.release(lease);
    });
    const ready = await beforeDeadline(
      zygote.ready().then(
        () => ({}),
        (error: unknown) => ({ lost: message(error) }),
      ),
      "the fork server was not ready in time",
      READY_TIMEOUT_MS,
    );
    if ("lost" in ready) {
      await zygote.kill();
      throw new Error(ready.lost);
    }
    if (this.closed) {
      await zygote.kill();
      throw new Error("the sandbox is shut down");
    }
    this.renewOnTime(zygote);
    return zygote;
  }

  /**
   * A fork server is renewed on time even when no request comes: its successor is started when
   * it is nearly too old and takes over once it is, so the first request after a quiet spell
   * does not wait for a new fork server's imports (the pool forks its spares from the successor).
   */
  private renewOnTime(zygote: ZygoteProcess): void {
    const succeed = () => {
      // Not when it is itself the successor, nor when it has one already.
      if (!this.closed && this.usable(zygote) && this.next === undefined) this.startSuccessor();
    };
    const takeOver = () => {
      if (this.closed || !zygote.alive) return;
      this.retire(zygote);
      const work = this.ready().then(
        () => undefined,
        (error: unknown) => this.options.onSandboxLog(message(error), { code: "SANDBOX_UNAVAILABLE" }),
      );
      this.pending.add(work);
      void work.finally(() => this.pending.delete(work));
    };
    const timers = [setTimeout(succeed, this.maxAgeMs * NEARLY - zygote.age), setTimeout(takeOver, this.maxAgeMs - zygote.age)];
    for (const timer of timers) timer.unref();
    void zygote.exited.then(() => {
      for (const timer of timers) clearTimeout(timer);
    });
  }
}
