import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { type CapturedOutput, NO_OUTPUT } from "../../domain/captured-output.js";
import type { ExecutionRequest } from "../../domain/execution-request.js";
import { failure } from "../../domain/execution-result.js";
import { err } from "../../domain/result.js";
import type { SandboxOutcome, SandboxPort } from "../../domain/sandbox.port.js";
import { message } from "../cgroups/cgroup-preparation.js";
import { type CgroupSlot, cgroupSlots, joinSlotArgv } from "../cgroups/cgroup-slots.js";
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
import { outcomeOf } from "../python/harness-outcome.js";
import { RESULT_FD, SANDBOX_LOG_FD } from "../python/harness-process.js";
import { encodeHarnessRequest, harnessRequestFor, maxReportBytes, parseHarnessReport } from "../python/harness-protocol.js";
import { PYTHON_FLAGS } from "../python/script-environment.js";
import { NOT_STARTED_MESSAGE } from "../python/started-harness.js";
import { HeldUids } from "../run/held-uids.js";
import { atDeadline } from "../run/run-deadline.js";
import { cpuSecondsFor, MAX_PROCESSES, MAX_PROCESSES_BACKSTOP } from "../run/run-limits.js";
import { SANDBOX_UID_COUNT, SandboxUids } from "../run/sandbox-uids.js";
import { SlotQuarantine } from "../run/slot-quarantine.js";
import { childWithNamespacePid } from "./host-pid.js";
import { RunChannel, type RunSetup } from "./run-channel.js";
import { buildZygoteArgv, insideUid, ZYGOTE_ALLOWED_SYSCALLS } from "./zygote-argv.js";
import { zygoteEnding } from "./zygote-ending.js";
import { type ForkedRun, type RunExit, ZygoteProcess } from "./zygote-process.js";

/** What a jail per run is given, and how many runs' processes to fork ahead of their requests. */
export interface ZygoteSandboxOptions extends Omit<NsjailSandboxOptions, "maxTimeoutMs"> {
  /** Runs' processes forked ahead, each waiting in its slot for a request (none by default). */
  readonly spares?: number;
  /** A fork server is replaced after this many runs. */
  readonly maxForks?: number;
  /** A fork server is replaced after this long. */
  readonly maxAgeMs?: number;
}

/**
 * The top of the sandbox uid range is for the fork servers themselves; their runs get the rest.
 * The fork servers of every server process on the host draw from it (a live one and its successor
 * each): a dev server beside parallel test workers needs more than a handful.
 */
const ZYGOTE_UID_COUNT = 32;
const DEFAULT_MAX_FORKS = 10_000;
const DEFAULT_MAX_AGE_MS = 15 * 60 * 1000;
/** A fork server's own cgroup: the interpreter with numpy and pandas, and its children until each is moved into its run's. */
const ZYGOTE_SLOT = { memoryMb: 1024, maxPids: 1024, cpuCores: availableParallelism() };
const MIB = 1024 * 1024;
/** From fork order to the run's connections: far more than it takes even on a loaded host. */
const SETUP_TIMEOUT_MS = 20_000;
/** From a fork server's start to its "ready": its imports take tens of seconds on an emulated or crowded CPU. */
const READY_TIMEOUT_MS = 180_000;
/** How long the fork server has to kill and reap a run whose time is up before the server kills it through its cgroup. */
const KILL_GRACE_MS = 1000;
/** How long the output streams may stay open after the run's processes are gone. */
const DRAIN_GRACE_MS = 1000;
const RETRY = "; retry the request";
/** A fork server's successor is started when it has used this share of its runs or its time. */
const NEARLY = 0.9;

/** A run's process, forked, in its uid's slot and connected, waiting for its request. */
interface StartedRun {
  readonly kind: "started";
  readonly uid: number;
  readonly channel: RunChannel;
  readonly zygote: ZygoteProcess;
  readonly slot: CgroupSlot;
  readonly fork: ForkedRun;
}
/** Why a run could not start; nothing of its script ran. */
type Lost = { readonly kind: "lost"; readonly reason: string };
type Started = StartedRun | Lost;
type SlotLimits = Parameters<CgroupSlot["prepare"]>[0];

/**
 * The nsjail backend with a fork server: one long-lived jail (nsjail.cfg) whose interpreter has
 * imported numpy and pandas once and forks a child per run, which then puts itself in namespaces,
 * a uid, a work dir and a seccomp policy of its own before the script runs (zygote.py). A run
 * costs a fork, not an interpreter. The fork server is replaced after `maxForks` runs or
 * `maxAgeMs`, and whenever it dies.
 *
 * With `spares`, that many runs' processes are forked, moved into their slots and connected
 * before any request needs them (Android's pool of unspecialized zygote children): a request
 * then waits only for its script, and the machine forks while it would otherwise wait.
 */
export class ZygoteSandbox implements SandboxPort {
  readonly backend = "nsjail";
  readonly isolation: string;
  private readonly runUids: HeldUids;
  private readonly zygoteUids: SandboxUids;
  private readonly slots: (uid: number) => CgroupSlot;
  /** The slots of the runs' uids, kept as long as the uids are held. */
  private readonly runSlots = new Map<number, CgroupSlot>();
  private readonly quarantine: SlotQuarantine;
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
  /** Fork servers that take no new run and are stopped when their last one is over. */
  private readonly retiring = new Set<ZygoteProcess>();
  /** Runs not yet over, their slots' clean-up included. */
  private readonly running = new Set<Promise<SandboxOutcome>>();
  /** Runs' processes forked ahead, the oldest first. */
  private readonly spares: StartedRun[] = [];
  /** Spares being forked, and runs being given up (close() waits for both). */
  private readonly pending = new Set<Promise<void>>();
  private runCount = 0;
  private pendingSpares = 0;
  private zygoteCount = 0;
  private closed = false;

  constructor(private readonly options: ZygoteSandboxOptions) {
    this.runUids = new HeldUids(new SandboxUids(options.uidBase, SANDBOX_UID_COUNT - ZYGOTE_UID_COUNT));
    this.zygoteUids = new SandboxUids(options.uidBase + SANDBOX_UID_COUNT - ZYGOTE_UID_COUNT, ZYGOTE_UID_COUNT);
    const slots = cgroupSlots(options.cgroup, options.ioMbPerSec > 0 ? options.throttledDevices : []);
    if (slots === undefined) throw new Error("a fork server's runs need cgroups: their memory and process limits are their cgroup's");
    this.slots = slots;
    this.quarantine = new SlotQuarantine((message) => options.onSandboxLog(message, { code: "SANDBOX_UNAVAILABLE" }));
    this.maxForks = options.maxForks ?? DEFAULT_MAX_FORKS;
    this.maxAgeMs = options.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
    this.workDir = mkdtempSync(join(tmpdir(), "pyexec-zygote-"));
    // nsjail binds each fork server's channel directory from inside its user namespace, as that
    // fork server's uid: the path must be passable, though not listable.
    chmodSync(this.workDir, 0o711);
    this.isolation =
      "a fork server's child per run, in user, mount, pid, net, ipc, uts and cgroup namespaces of its own; no network; seccomp; " +
      `cgroup ${options.cgroup.version} memory and pids limits`;
  }

  /** Runs' processes forked ahead, in their slots and connected, waiting for a request. */
  get readyCount(): number {
    return this.spares.length;
  }

  async run(request: ExecutionRequest): Promise<SandboxOutcome> {
    if (this.closed) return unavailable("The sandbox is shut down", NO_OUTPUT);
    const running = this.runOnce(request);
    this.running.add(running);
    try {
      return await running;
    } finally {
      this.running.delete(running);
    }
  }

  private async runOnce(request: ExecutionRequest): Promise<SandboxOutcome> {
    for (let attempt = 1; ; attempt++) {
      const started = await this.startedFor(request);
      this.refillSpares();
      const outcome = started.kind === "lost" ? started : await this.finished(started, request);
      // Nothing of the script ran yet: a fork server that died meanwhile costs one retry.
      if (!("kind" in outcome)) return outcome;
      if (attempt < 2 && !this.closed && !request.signal?.aborted) continue;
      this.options.onSandboxLog(outcome.reason, { code: "SANDBOX_UNAVAILABLE" });
      return unavailable(`${NOT_STARTED_MESSAGE}${RETRY}`, NO_OUTPUT);
    }
  }

  private async finished(started: StartedRun, request: ExecutionRequest): Promise<SandboxOutcome | Lost> {
    try {
      return await this.finish(started, request);
    } finally {
      started.fork.done();
      await started.channel.close();
      if (!this.usable(started.zygote)) this.retire(started.zygote);
      this.releaseRunUid(started.uid);
    }
  }

  /** A run's uid goes to the next run once its slot is empty (see SlotQuarantine). */
  private releaseRunUid(uid: number): void {
    this.quarantine.releaseWhenEmpty(this.runSlots.get(uid), () => this.runUids.release(uid));
  }

  /** A spare given this request's limits, or a run's process forked for it now. */
  private async startedFor(request: ExecutionRequest): Promise<Started> {
    const limits = this.runLimits(request.memoryMb);
    const spare = this.takeSpare();
    if (spare === undefined) return this.startRun(limits);
    try {
      spare.slot.prepare(limits);
      return spare;
    } catch (error) {
      this.giveUp(spare);
      return { kind: "lost", reason: message(error) };
    }
  }

  /** Forks a run's process under a uid of its own; the uid goes back if it is lost. */
  private async startRun(limits: SlotLimits): Promise<Started> {
    const uid = this.runUids.acquire();
    const started = await this.start(uid, limits);
    if (started.kind === "lost") this.releaseRunUid(uid);
    return started;
  }

  private takeSpare(): StartedRun | undefined {
    for (let spare = this.spares.shift(); spare !== undefined; spare = this.spares.shift()) {
      if (this.usable(spare.zygote)) return spare;
      this.giveUp(spare);
    }
    return undefined;
  }

  /** Forks spares until there are `spares` of them (ready or being forked). */
  private refillSpares(): void {
    while (!this.closed && this.spares.length + this.pendingSpares < (this.options.spares ?? 0)) {
      this.pendingSpares++;
      this.track(
        this.startRun(this.runLimits(this.options.memoryLimitMb))
          .then((started) => {
            if (started.kind === "lost") {
              if (!this.closed) this.options.onSandboxLog(started.reason, { code: "SANDBOX_UNAVAILABLE" });
            } else if (this.closed || !this.usable(started.zygote)) this.giveUp(started);
            else this.addSpare(started);
          })
          .finally(() => this.pendingSpares--),
      );
    }
  }

  private addSpare(spare: StartedRun): void {
    this.spares.push(spare);
    // A spare whose process ends while it waits (its fork server died) is no use to a request.
    void spare.fork.ended.then(() => {
      const index = this.spares.indexOf(spare);
      if (index < 0) return;
      this.spares.splice(index, 1);
      this.giveUp(spare);
    });
  }

  /**
   * A run's process no request will have: the fork server kills it (its unreaped child, so the
   * pid is certainly its), then its slot is emptied and its uid goes back.
   */
  private giveUp(run: StartedRun): void {
    this.track(
      (async () => {
        run.fork.kill();
        await beforeDeadline(run.fork.ended, "", KILL_GRACE_MS);
        run.fork.done();
        await run.channel.close();
        if (!this.usable(run.zygote)) this.retire(run.zygote);
        // A slot that cannot be emptied is quarantined, and says so.
        await run.slot.killAll().catch(() => undefined);
        this.releaseRunUid(run.uid);
      })(),
    );
  }

  /** Work no request waits for: close() waits for it, and what fails of it is logged, never thrown. */
  private track(work: Promise<void>): void {
    const tracked = work.catch((error: unknown) => this.options.onSandboxLog(message(error), { code: "SANDBOX_UNAVAILABLE" }));
    this.pending.add(tracked);
    void tracked.finally(() => this.pending.delete(tracked));
  }

  private runLimits(memoryMb: number): SlotLimits {
    return { memoryMb, maxPids: MAX_PROCESSES, cpuCores: 1, ...this.ioLimit() };
  }

  /** Stops every fork server, and with them every run still going (a shutdown past its grace period). */
  async close(): Promise<void> {
    this.closed = true;
    this.current = undefined;
    this.next = undefined;
    await Promise.all([...this.live].map((zygote) => zygote.kill()));
    // Their runs end as lost; each empties its slot before its uid may be leased again.
    await Promise.allSettled([...this.running]);
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    for (const spare of this.spares.splice(0)) this.giveUp(spare);
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    for (const slot of this.runSlots.values()) slot.close();
    this.quarantine.close();
    this.runUids.releaseIdle();
    rmSync(this.workDir, { recursive: true, force: true });
  }

  /**
   * Forks the run's process, moves it into the run's cgroup before it does anything but connect
   * its channels, so that everything the run forks and allocates is counted there, and waits
   * until the channels are in.
   */
  private async start(uid: number, limits: SlotLimits): Promise<Started> {
    let zygote: ZygoteProcess;
    let slot: CgroupSlot;
    try {
      zygote = await this.readyZygote();
      slot = this.runSlot(uid);
      // A run whose processes outlived the last wait must not share this one's limits.
      await slot.killAll();
      slot.prepare(limits);
    } catch (error) {
      return { kind: "lost", reason: message(error) };
    }
    const name = `run-${++this.runCount}`;
    let channel: RunChannel;
    try {
      // The fork server may have died and its channel directory gone with it.
      channel = await RunChannel.open(join(zygote.spec.channelsDir, name), {
        maxOutputBytes: this.options.maxOutputBytes,
        maxReportBytes: maxReportBytes(this.options.maxResultBytes, this.options.artifactLimits),
      });
    } catch (error) {
      this.retire(zygote);
      return { kind: "lost", reason: message(error) };
    }
    const inside = insideUid(uid, this.runUidRange());
    const fork = zygote.fork({ run: name, uid: inside, gid: inside });
    const forked = await beforeDeadline(fork.forked, "the fork server did not fork the run in time");
    let failure: string | undefined;
    if ("pid" in forked) {
      const hostPid = zygote.pythonPid === undefined ? undefined : childWithNamespacePid(zygote.pythonPid, forked.pid);
      try {
        if (hostPid === undefined) throw new Error(`the run's process (pid ${forked.pid} in the fork server) is not among its children`);
        await slot.attach(hostPid);
        const connected = await beforeDeadline(
          Promise.race([
            channel.connected.then(() => ({})),
            fork.ended.then((exit) => ({ lost: `the run ended before it connected: ${JSON.stringify(exit)}` })),
          ]),
          "the run did not connect in time",
        );
        if (!("lost" in connected)) return { kind: "started", uid, channel, zygote, slot, fork };
        failure = connected.lost;
      } catch (error) {
        failure = message(error);
      }
    } else {
      failure = forked.lost;
    }
    // Nothing of the script ran: the run is given up, and a fork server that failed it is not
    // trusted with the next one. It is retired first: emptying the slot may wait for it to reap.
    fork.done();
    this.retire(zygote);
    await channel.close();
    const emptied = await slot.killAll().then(
      () => "",
      (error: unknown) => `\n${message(error)}`,
    );
    return { kind: "lost", reason: `${failure}${emptied}\n${zygote.log()}` };
  }

  /** Hands the script over, waits for the run to end (or its time limit) and makes sure nothing of it is left. */
  private async finish({ channel, zygote, slot, fork }: StartedRun, request: ExecutionRequest): Promise<SandboxOutcome | Lost> {
    const startedAt = performance.now();
    let timedOut = false;
    // The timeout's kill, if it started. It must be over before the slot is emptied for the last
    // time: the uid and its slot then go to the next run, whose processes a kill still sweeping
    // the slot would kill. A failure to kill is reported by the kill after the exit.
    let timeoutKill: Promise<void> = Promise.resolve();
    const clearDeadline = atDeadline(request, () => {
      timedOut = true;
      timeoutKill = this.killAtTimeLimit(fork, zygote, slot).catch(() => undefined);
    });
    let exit: RunExit;
    let setup: RunSetup;
    let durationMs: number;
    try {
      const { maxResultBytes, artifactLimits } = this.options;
      // The slot's pids.max (which counts refused forks) is the limit a fork bomb meets, as in a jail.
      const limits = { cpuSeconds: cpuSecondsFor(request.timeoutMs), processes: MAX_PROCESSES_BACKSTOP };
      channel.go(encodeHarnessRequest(harnessRequestFor(request, { limits, maxResultBytes, artifactLimits })));
      // The fork server reaps the run's process, pid 1 of its namespace, once every process of
      // the run is gone; then its control channel is closed too.
      exit = await fork.ended;
      durationMs = Math.round(performance.now() - startedAt);
      // The run ended within its time: waiting for its set-up message below is no part of it.
      clearDeadline();
      setup = await channel.setup;
    } finally {
      clearDeadline();
      await timeoutKill;
    }
    await slot.killAll();
    const oomKilled = slot.oomKilled();
    const limitsHit = slot.limitsHit();
    await channel.drain(DRAIN_GRACE_MS);
    const output: CapturedOutput = {
      stdout: channel.stdout.text(),
      stderr: channel.stderr.text(),
      stdoutTruncated: channel.stdout.truncated,
      stderrTruncated: channel.stderr.truncated,
    };
    const report = channel.report.truncated ? ({ kind: "malformed" } as const) : parseHarnessReport(channel.report.bytes(), this.options.maxResultBytes);
    const ending = zygoteEnding({ setup, exit, report, timedOut, oomKilled, limitsHit });
    if ("failed" in ending) {
      // A run forked ahead whose fork server died before the run said it was ready: its script never started.
      if (exit.kind === "lost" && !("ready" in setup)) return { kind: "lost", reason: `${ending.failed}\n${zygote.log()}` };
      this.options.onSandboxLog(`${ending.failed}\n${zygote.log()}`, { code: "SANDBOX_UNAVAILABLE" });
      const message = exit.kind === "lost" ? `The sandbox stopped while the script ran${RETRY}` : NOT_STARTED_MESSAGE;
      return unavailable(message, output);
    }
    return outcomeOf(ending, output, request, durationMs);
  }

  /**
   * The run's process is killed by its parent, the fork server, which has not reaped it and so
   * knows its pid for certain; the kernel then ends every process of its pid namespace. Killing
   * pids read from the slot's cgroup.procs instead would race with their exit: a pid freed
   * between the read and the kill may already be another process's. That is only the fallback
   * for a fork server that does not act on the order.
   */
  private async killAtTimeLimit(fork: ForkedRun, zygote: ZygoteProcess, slot: CgroupSlot): Promise<void> {
    fork.kill();
    const reaped = await beforeDeadline(fork.ended, "the fork server did not kill a run at its time limit: killed through its cgroup", KILL_GRACE_MS);
    if (!("lost" in reaped)) return;
    this.options.onSandboxLog(`${reaped.lost}\n${zygote.log()}`, { code: "TIMEOUT" });
    // Side by side: a killed run's process stays in its slot until the fork server reaps it, and
    // a fork server that does not is stopped, which ends it.
    const killed = slot.killAll().catch(() => undefined);
    await Promise.all([killed, this.reapedOrStopped(fork, zygote)]);
  }

  /**
   * Once the time limit kills every process of the run, the fork server has only to reap it: if
   * it does not, it is stalled, and it is stopped (which ends its runs as lost). Until the run is
   * reaped its slot is not empty: its pids controller counts the unreaped process.
   */
  private async reapedOrStopped(fork: ForkedRun, zygote: ZygoteProcess): Promise<void> {
    const reaped = await beforeDeadline(fork.ended, "the fork server did not reap a run killed at its time limit");
    if (!("lost" in reaped)) return;
    this.options.onSandboxLog(`${reaped.lost}\n${zygote.log()}`, { code: "SANDBOX_UNAVAILABLE" });
    this.retire(zygote);
    await zygote.kill();
  }

  /**
   * The fork server new runs go to, ready. A spent, dead or retired one is replaced (by its
   * successor, started in the background once it was nearly spent, so no run waits for imports).
   */
  private async readyZygote(): Promise<ZygoteProcess> {
    for (;;) {
      if (this.closed) throw new Error("the sandbox is shut down");
      if (this.current === undefined) {
        this.current = this.next ?? this.startZygote();
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

  private runSlot(uid: number): CgroupSlot {
    let slot = this.runSlots.get(uid);
    if (slot === undefined) {
      slot = this.slots(uid);
      this.runSlots.set(uid, slot);
    }
    return slot;
  }

  private usable(zygote: ZygoteProcess): boolean {
    return zygote.alive && !this.retiring.has(zygote) && zygote.forks < this.maxForks && zygote.age < this.maxAgeMs;
  }

  private nearlySpent(zygote: ZygoteProcess): boolean {
    return zygote.forks >= this.maxForks * NEARLY || zygote.age >= this.maxAgeMs * NEARLY;
  }

  private startSuccessor(): void {
    const next = this.startZygote();
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
  private derivedPolicy(): NonNullable<ZygoteSandbox["policy"]> {
    if (this.policy === undefined) {
      const config = readFileSync(this.options.configPath, "utf8");
      const rules = parseSeccompPolicy(seccompStrings(config).join("\n"));
      const configPath = join(this.workDir, "nsjail.cfg");
      writeFileSync(configPath, withoutSeccompStrings(config));
      this.policy = { configPath, zygoteSeccomp: renderKafel(allowing(rules, ZYGOTE_ALLOWED_SYSCALLS)), childSeccomp: childSeccompRules(rules) };
    }
    return this.policy;
  }

  private async startZygote(): Promise<ZygoteProcess> {
    const policy = this.derivedPolicy();
    const zygoteUid = this.zygoteUids.acquire();
    const channelsDir = join(this.workDir, `zygote-${++this.zygoteCount}`);
    const { runtime } = this.options;
    let slot: CgroupSlot;
    try {
      mkdirSync(channelsDir, { mode: 0o700 });
      chownSync(channelsDir, zygoteUid, zygoteUid);
      slot = this.slots(zygoteUid);
      await slot.killAll();
      slot.prepare({ ...ZYGOTE_SLOT, ...this.ioLimit() });
    } catch (error) {
      rmSync(channelsDir, { recursive: true, force: true });
      this.zygoteUids.release(zygoteUid);
      throw error;
    }
    const zygote = ZygoteProcess.start({
      ...joinSlotArgv(
        slot.procsFiles,
        this.options.nsjailBin,
        buildZygoteArgv({
          configPath: policy.configPath,
          pythonExecutable: runtime.pythonBin,
          venvDir: runtime.venvDir,
          zygoteSource: runtime.zygoteSource,
          harnessSource: runtime.harnessSource,
          preloadModules: this.options.preloadModules,
          pythonFlags: PYTHON_FLAGS,
          env: jailEnvironment(this.options.serverEnv),
          zygoteUid,
          runUids: this.runUidRange(),
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
      try {
        await slot.killAll();
      } catch (error) {
        this.options.onSandboxLog(`the fork server's cgroup could not be emptied: ${message(error)}`, {
          code: "SANDBOX_UNAVAILABLE",
        });
      } finally {
        this.live.delete(zygote);
        this.retiring.delete(zygote);
        rmSync(channelsDir, { recursive: true, force: true });
        this.zygoteUids.release(zygoteUid);
      }
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
   * it is nearly too old and takes over (with spares of its own) once it is, so the first request
   * after a quiet spell does not wait for a new fork server's imports.
   */
  private renewOnTime(zygote: ZygoteProcess): void {
    const succeed = () => {
      // Not when it is itself the successor, nor when it has one already.
      if (!this.closed && this.usable(zygote) && this.next === undefined) this.startSuccessor();
    };
    const takeOver = () => {
      if (this.closed || !zygote.alive) return;
      this.retire(zygote);
      this.track(this.readyZygote().then(() => this.refillSpares()));
    };
    const timers = [setTimeout(succeed, this.maxAgeMs * NEARLY - zygote.age), setTimeout(takeOver, this.maxAgeMs - zygote.age)];
    for (const timer of timers) timer.unref();
    void zygote.exited.then(() => {
      for (const timer of timers) clearTimeout(timer);
    });
  }

  /** No new run goes to this fork server; it is stopped as soon as no run of it is left. */
  private retire(zygote: ZygoteProcess): void {
    this.retiring.add(zygote);
    for (const spare of this.spares.filter((s) => s.zygote === zygote)) {
      this.spares.splice(this.spares.indexOf(spare), 1);
      this.giveUp(spare);
    }
    this.stopIfIdle(zygote);
  }

  private stopIfIdle(zygote: ZygoteProcess): void {
    if (this.retiring.has(zygote) && zygote.inFlight === 0) zygote.kill().catch(() => undefined);
  }

  private ioLimit(): { ioBytesPerSecond?: number } {
    return this.options.ioMbPerSec > 0 ? { ioBytesPerSecond: this.options.ioMbPerSec * MIB } : {};
  }

  private runUidRange() {
    return { first: this.options.uidBase, count: SANDBOX_UID_COUNT - ZYGOTE_UID_COUNT };
  }
}

function unavailable(message: string, output: CapturedOutput): SandboxOutcome {
  return err(failure("SANDBOX_UNAVAILABLE", message, output));
}

/** The promise's value, or a lost reason once `ms` have passed. */
async function beforeDeadline<T>(promise: Promise<T>, reason: string, ms = SETUP_TIMEOUT_MS): Promise<T | { lost: string }> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<{ lost: string }>((resolve) => {
    timer = setTimeout(() => resolve({ lost: reason }), ms);
  });
  const result = await Promise.race([promise, late]);
  clearTimeout(timer);
  return result;
}
