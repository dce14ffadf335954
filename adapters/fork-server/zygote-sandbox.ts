import { join } from "node:path";
import { type CapturedOutput, NO_OUTPUT } from "../../domain/captured-output.js";
import type { ExecutionRequest } from "../../domain/execution-request.js";
import { failure } from "../../domain/execution-result.js";
import { err } from "../../domain/result.js";
import type { SandboxOutcome } from "../../domain/sandbox.port.js";
import { message } from "../cgroups/cgroup-preparation.js";
import { cgroupSlots, ioLimitOf, SLOT_EMPTY_WAIT_MS, type SlotLimits } from "../cgroups/cgroup-slots.js";
import type { NsjailSandboxOptions } from "../nsjail/nsjail-sandbox.js";
import type { PrestartableSandbox, StartedSandbox } from "../pool/prestartable-sandbox.js";
import { outcomeOf } from "../python/harness-outcome.js";
import {
  encodeHarnessRequest,
  type HarnessReport,
  harnessRequestFor,
  isFinishedReport,
  maxReportBytes,
  parseHarnessReport,
} from "../python/harness-protocol.js";
import { sessionOf } from "../python/session-link.js";
import { NOT_STARTED_MESSAGE, outputOf } from "../python/started-harness.js";
import { beforeDeadline } from "../run/before-deadline.js";
import { KILL_GRACE_MS } from "../run/end-graces.js";
import { HeldUids } from "../run/held-uids.js";
import { RunLeases, type SlottedLease } from "../run/run-leases.js";
import { type LiveRun, type RunEnd, RunLifecycle } from "../run/run-lifecycle.js";
import { cpuSecondsFor, MAX_PROCESSES, MAX_PROCESSES_BACKSTOP } from "../run/run-limits.js";
import { SANDBOX_UID_COUNT, SandboxUids } from "../run/sandbox-uids.js";
import { installedModules, preloadedChoice } from "./fork-choice.js";
import { FORK_SERVER_UID_COUNT, ForkServerFleet } from "./fork-server-fleet.js";
import { RunChannel, type RunSetup } from "./run-channel.js";
import { insideUid } from "./zygote-argv.js";
import { zygoteEnding } from "./zygote-ending.js";
import type { ForkedRun, RunExit, ZygoteProcess } from "./zygote-process.js";

/** What a jail per run is given, and when a fork server is replaced. */
export interface ZygoteSandboxOptions extends Omit<NsjailSandboxOptions, "maxTimeoutMs"> {
  /** A fork server is replaced after this many runs. */
  readonly maxForks?: number;
  /** A fork server is replaced after this long. */
  readonly maxAgeMs?: number;
}

/** From fork order to the run's connections: far more than it takes even on a loaded host. */
const SETUP_TIMEOUT_MS = 20_000;
const RETRY = "; retry the request";

/** What a started fork needs of the sandbox that forked it. */
interface ForkContext {
  readonly fleet: ForkServerFleet;
  readonly leases: RunLeases;
  readonly lifecycle: RunLifecycle;
  readonly options: ZygoteSandboxOptions;
  /** Runs' processes started and not yet over (running a script, or waiting for one). */
  readonly started: Set<StartedFork>;
  limits(memoryMb: number): SlotLimits;
  /** Whether a request's run is forked from the bare fork server. */
  bare(request: ExecutionRequest): boolean;
  /** A request of this kind came: the spares forked from now on are of its kind. */
  demanded(bare: boolean): void;
  /** Runs the request on a process forked for it (one whose fork server died before its script started is no use). */
  runCold(request: ExecutionRequest): Promise<SandboxOutcome>;
  /** Work close() must wait for. */
  track<T>(work: Promise<T>): Promise<T>;
}

/** Why a run could not start or be handed its script; nothing of its script ran. */
type Lost = { readonly kind: "lost"; readonly reason: string };
/** How a forked run ended: as its fork server reaped it, and what it said of its set-up. */
interface ForkedExit {
  readonly exit: RunExit;
  readonly setup: RunSetup;
  /** It said it had read its request before its control channel closed: its script may have started. */
  readonly started: boolean;
}

/**
 * The nsjail backend with a fork server (the default mode): one long-lived jail (nsjail.cfg)
 * whose interpreter has imported numpy and pandas once and forks a child per run, which then
 * puts itself in namespaces, a uid, a work dir and a seccomp policy of its own before the script
 * runs (sandbox_harness/fork_server.py). A run costs a fork, not an interpreter. The fork servers are the fleet's
 * (fork-server-fleet.ts); a run's uid, slot and life are the same as a jail's (adapters/run/).
 *
 * A run's process can be forked, moved into its slot and connected before any request needs it
 * (prestart): the pool (adapters/pool/) keeps such runs ready, as it keeps jails for the jail
 * per run, and a request then waits only for its script.
 */
export class ZygoteSandbox implements PrestartableSandbox {
  readonly backend = "nsjail";
  readonly isolation: string;
  private readonly fleet: ForkServerFleet;
  private readonly leases: RunLeases;
  private readonly runUids: HeldUids;
  private readonly lifecycle: RunLifecycle;
  private readonly context: ForkContext;
  /** Starts and runs under way: close() waits for them. */
  private readonly pending = new Set<Promise<unknown>>();
  private runCount = 0;
  private closed = false;
  private readonly needsPreloads: (request: ExecutionRequest) => boolean;
  /** The kind of spare prestart() forks: the last request's. */
  private spareBare = false;
  /** What a spare said failed in its set-up, while it waited for a request. */
  private spareSetUpFailure: string | undefined;

  constructor(private readonly options: ZygoteSandboxOptions) {
    const slots = cgroupSlots(options.cgroup, options.ioMbPerSec > 0 ? options.throttledDevices : []);
    if (slots === undefined) throw new Error("a fork server's runs need cgroups: their memory and process limits are their cgroup's");
    const log = (text: string) => options.onSandboxLog(text, { code: "SANDBOX_UNAVAILABLE" });
    this.runUids = new HeldUids(new SandboxUids(options.uidBase, SANDBOX_UID_COUNT - FORK_SERVER_UID_COUNT));
    this.leases = new RunLeases({ uids: this.runUids, slots, uidsStayHeld: true, onStuck: log });
    this.lifecycle = new RunLifecycle({ leases: this.leases, endGraceMs: options.endGraceMs, onLog: log });
    this.fleet = new ForkServerFleet({ ...options, slots, runUids: this.runUidRange() });
    this.needsPreloads = preloadedChoice(options.preloadModules, installedModules(options.runtime.venvDir));
    this.context = {
      fleet: this.fleet,
      leases: this.leases,
      lifecycle: this.lifecycle,
      options,
      started: new Set(),
      limits: (memoryMb) => this.runLimits(memoryMb),
      bare: (request) => !this.needsPreloads(request),
      demanded: (bare) => (this.spareBare = bare),
      runCold: (request) => this.run(request),
      track: (work) => this.tracked(work),
    };
    this.isolation =
      "a fork server's child per run, in user, mount, pid, net, ipc, uts and cgroup namespaces of its own; no network; seccomp; " +
      `cgroup ${options.cgroup.version} memory and pids limits`;
  }

  async run(request: ExecutionRequest): Promise<SandboxOutcome> {
    if (this.closed) return unavailable("The sandbox is shut down", NO_OUTPUT);
    const bare = this.context.bare(request);
    this.demandedWithoutSpare(bare);
    for (let attempt = 1; ; attempt++) {
      const started = await this.tracked(this.start(request.memoryMb, bare));
      // Nothing of the script ran yet: a fork server that died meanwhile costs one retry.
      const outcome = started.kind === "lost" ? started : await this.tracked(started.runOnce(request));
      if (!("kind" in outcome)) return outcome;
      if (attempt < 2 && !this.closed && !request.signal?.aborted) continue;
      this.options.onSandboxLog(outcome.reason, { code: "SANDBOX_UNAVAILABLE" });
      return unavailable(`${NOT_STARTED_MESSAGE}${RETRY}`, NO_OUTPUT);
    }
  }

  /** A run's process forked ahead, in its slot and connected, waiting for a request. */
  async prestart(): Promise<StartedSandbox> {
    if (this.closed) throw new Error("the sandbox is shut down");
    const failed = this.spareSetUpFailure;
    this.spareSetUpFailure = undefined;
    // The pool waits before it tries again, rather than fork spares that fail alike in a loop.
    if (failed !== undefined) throw new Error(`a run forked ahead could not set itself up: ${failed}`);
    const started = await this.tracked(this.start(this.options.memoryLimitMb, this.spareBare));
    if (started.kind === "lost") throw new Error(started.reason);
    // A spare that says what failed in its set-up ends, and the pool replaces it: the next prestart() says why instead.
    void started.setUpFailure.then((failure) => {
      if (failure !== undefined) this.spareSetUpFailure = failure;
    });
    // Demand moved while it was forked: the pool gives it up at once and forks one of the other kind.
    if (started.bare !== this.spareBare) started.giveUp();
    return started;
  }

  /**
   * A request found no spare of its kind: the spares forked from now on are of its kind, and the
   * oldest spare of the other kind is given up, so that demand that moves (hellos, then pandas)
   * moves the spares with it, one per request that missed.
   */
  private demandedWithoutSpare(bare: boolean): void {
    this.context.demanded(bare);
    [...this.context.started].find((run) => run.waiting && run.bare !== bare)?.giveUp();
  }

  /** Stops every fork server, and with them every run still going (a shutdown past its grace period). */
  async close(): Promise<void> {
    this.closed = true;
    this.lifecycle.close();
    await this.fleet.close();
    // Their runs end as lost; each empties its slot before its uid may be leased again.
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    await Promise.allSettled([...this.context.started].map((run) => run.discard()));
    this.leases.close();
    this.fleet.closeLeases();
    this.runUids.releaseIdle();
  }

  private tracked<T>(work: Promise<T>): Promise<T> {
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work)).catch(() => undefined);
    return work;
  }

  private runLimits(memoryMb: number): SlotLimits {
    return { memoryMb, maxPids: MAX_PROCESSES, cpuCores: 1, ...ioLimitOf(this.options.ioMbPerSec) };
  }

  private runUidRange() {
    return { first: this.options.uidBase, count: SANDBOX_UID_COUNT - FORK_SERVER_UID_COUNT };
  }

  /**
   * Forks the run's process, moves it into the run's cgroup before it does anything but connect
   * its channels, so that everything the run forks and allocates is counted there, waits until
   * the channels are in and lets it go on with its set-up (its namespaces, mounts, uid, seccomp),
   * which a spare does while it waits for a request, and a run forked for a request while the
   * request is handed over.
   */
  private async start(memoryMb: number, bare: boolean): Promise<StartedFork | Lost> {
    let zygote: ZygoteProcess;
    let lease: SlottedLease;
    try {
      zygote = await this.fleet.ready();
    } catch (error) {
      return { kind: "lost", reason: message(error) };
    }
    try {
      lease = await this.leases.leaseWithSlot(this.runLimits(memoryMb), { countersAtHandOver: true });
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
      this.fleet.retire(zygote);
      this.leases.release(lease);
      return { kind: "lost", reason: message(error) };
    }
    const inside = insideUid(lease.uid, this.runUidRange());
    const fork = zygote.fork({ run: name, uid: inside, gid: inside, ...(bare ? { bare } : {}) });
    // Its last run: it takes no other, and its runs forked ahead say so to the pool at once.
    if (!this.fleet.usable(zygote)) this.fleet.retire(zygote);
    const forked = await beforeDeadline(fork.forked, "the fork server did not fork the run in time", SETUP_TIMEOUT_MS);
    let failure: string | undefined;
    /** A move into the slot still under way when the run was given up. */
    let stalledMove: Promise<unknown> | undefined;
    if ("pid" in forked) {
      const hostPid = zygote.hostPid(forked);
      try {
        if (hostPid === undefined) throw new Error(`the run's process (pid ${forked.pid} in the fork server) is not among its children`);
        const move = lease.slot.attach(hostPid);
        const attached = await beforeDeadline(
          move.then(() => ({})),
          "the run's process was not moved into its cgroup slot in time",
          SETUP_TIMEOUT_MS,
        );
        if ("lost" in attached) {
          stalledMove = move.catch(() => undefined);
          throw new Error(attached.lost);
        }
        const connected = await beforeDeadline(
          Promise.race([
            channel.connected.then(() => ({})),
            fork.ended.then((exit) => ({ lost: `the run ended before it connected: ${JSON.stringify(exit)}` })),
          ]),
          "the run did not connect in time",
          SETUP_TIMEOUT_MS,
        );
        if (!("lost" in connected)) {
          channel.go();
          const run = new StartedFork(this.context, { lease, zygote, channel, fork, bare });
          this.context.started.add(run);
          return run;
        }
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
    this.fleet.retire(zygote);
    await channel.close();
    if (stalledMove !== undefined) {
      // Once the kernel finishes it, the move may still put the run's process into the slot.
      void stalledMove.then(() => this.emptyAndGiveBack(lease));
      return { kind: "lost", reason: `${failure}\nits uid is kept out of use until the move has returned\n${zygote.log()}` };
    }
    const emptied = await this.emptyAndGiveBack(lease);
    return { kind: "lost", reason: `${failure}${emptied ? "" : "\nits cgroup slot could not be emptied"}\n${zygote.log()}` };
  }

  /** Empties the lease's slot (waiting up to SLOT_EMPTY_WAIT_MS) and gives the lease back: whether the slot was emptied. */
  private async emptyAndGiveBack(lease: SlottedLease): Promise<boolean> {
    const emptied = await lease.slot.emptied(SLOT_EMPTY_WAIT_MS);
    this.leases.release(lease);
    return emptied;
  }
}

/** A run's process forked, in its uid's slot and connected, waiting for its request. */
class StartedFork implements StartedSandbox {
  readonly kind = "started";
  /** Once the run can take no request: its fork server retired or exited, or the process ended. */
  readonly gone: Promise<void>;
  /** Forked from the bare fork server. */
  readonly bare: boolean;
  /** No request has it yet. */
  waiting = true;
  /** What the run said failed in its set-up, if it said so before a request took it. */
  readonly setUpFailure: Promise<string | undefined>;
  private over = false;
  giveUp!: () => void;

  constructor(
    private readonly context: ForkContext,
    private readonly parts: { lease: SlottedLease; zygote: ZygoteProcess; channel: RunChannel; fork: ForkedRun; bare: boolean },
  ) {
    this.bare = parts.bare;
    const givenUp = new Promise<void>((resolve) => (this.giveUp = resolve));
    this.gone = Promise.race([parts.zygote.unusable, parts.fork.ended.then(() => undefined), givenUp]);
    this.setUpFailure = parts.channel.setup.then((setup) => ("failed" in setup && !setup.silent && this.waiting ? setup.failed : undefined));
  }

  get alive(): boolean {
    return !this.over && this.context.fleet.usable(this.parts.zygote);
  }

  /** Its slot takes the request's limits at the hand-over; its interpreter must be the one the request needs. */
  accepts(request: ExecutionRequest): boolean {
    return this.context.bare(request) === this.bare;
  }

  async run(request: ExecutionRequest): Promise<SandboxOutcome> {
    this.context.demanded(this.bare);
    const outcome = await this.context.track(this.runOnce(request));
    // Its fork server died before the script started: a run forked for the request instead.
    return "kind" in outcome ? this.context.runCold(request) : outcome;
  }

  /** Hands the script over, and the rest of the run's life is RunLifecycle's. */
  async runOnce(request: ExecutionRequest): Promise<SandboxOutcome | Lost> {
    const { lease, zygote, channel, fork } = this.parts;
    const { fleet, lifecycle, options } = this.context;
    this.waiting = false;
    try {
      lease.slot.prepare(this.context.limits(request.memoryMb));
    } catch (error) {
      await this.discard();
      return { kind: "lost", reason: message(error) };
    }
    const { maxResultBytes, artifactLimits } = options;
    // The slot's pids.max (which counts refused forks) is the limit a fork bomb meets, as in a jail.
    const limits = { cpuSeconds: cpuSecondsFor(request.timeoutMs), processes: MAX_PROCESSES_BACKSTOP };
    const live: LiveRun<ForkedExit> = {
      handOver: () => channel.handOver(encodeHarnessRequest(harnessRequestFor(request, { limits, maxResultBytes, artifactLimits })), sessionOf(request)),
      // The fork server reaps the run's process, pid 1 of its namespace, once every process of
      // the run is gone; by then the run's control channel is closed and its set-up known.
      ended: fork.ended.then(async (exit) => ({ exit, setup: await channel.setup, started: await channel.started })),
      // Its parent, the fork server, has not reaped it and so knows its pid for certain; the
      // kernel then ends every process of its pid namespace. Pids read from the slot could be
      // another process's by the time they are killed: that is only the lifecycle's fallback.
      stop: () => fork.kill(),
      drain: (graceMs) => channel.drain(graceMs),
      // Not reaped in time: its fork server is asked whether it still reads its orders.
      abandoned: () => fleet.ask(zygote),
      // The harness closes its streams as it exits, before the kernel tears its address space down.
      spoken: channel.outputClosed().then(() => (isFinishedReport(this.report()) ? undefined : new Promise<void>(() => undefined))),
    };
    return lifecycle.finish(
      live,
      lease,
      request,
      (end) => this.outcome(end, request),
      () => this.giveBack(),
    );
  }

  private report(): HarnessReport {
    const { channel } = this.parts;
    return channel.report.truncated ? { kind: "malformed" } : parseHarnessReport(channel.report.bytes(), this.context.options.maxResultBytes);
  }

  /** A run's process no request will have: the fork server kills it, then its slot is emptied and its uid goes back. */
  async discard(): Promise<void> {
    if (this.over) return;
    this.parts.fork.kill();
    await beforeDeadline(this.parts.fork.ended, "", KILL_GRACE_MS);
    await this.parts.lease.slot.emptied(SLOT_EMPTY_WAIT_MS);
    await this.giveBack();
  }

  private async giveBack(): Promise<void> {
    if (this.over) return;
    this.over = true;
    const { lease, zygote, channel, fork } = this.parts;
    const { fleet, leases, started } = this.context;
    started.delete(this);
    fork.done();
    await channel.close();
    fleet.runOver(zygote);
    leases.release(lease);
  }

  private outcome({ exit: ended, timedOut, durationMs, oomKilled, limitsHit }: RunEnd<ForkedExit>, request: ExecutionRequest): SandboxOutcome | Lost {
    const { channel, zygote } = this.parts;
    const { options } = this.context;
    const output = outputOf(channel);
    const report = this.report();
    const hits = limitsHit ?? { memory: false, processes: false };
    // Answered before the kernel let its process go: what it reported so far, at its time limit.
    if (ended === undefined)
      return outcomeOf({ report, exitCode: null, signal: null, timedOut, memoryLimitHit: oomKilled, limitsHit: hits }, output, request, durationMs);
    const { exit, setup, started } = ended;
    const ending = zygoteEnding({ setup, exit, report, timedOut, oomKilled: oomKilled ?? false, limitsHit: hits });
    if ("failed" in ending) {
      // A run whose fork server died before the run said it had read its request: its script never started.
      if (exit.kind === "lost" && !started) return { kind: "lost", reason: `${ending.failed}\n${zygote.log()}` };
      options.onSandboxLog(`${ending.failed}\n${zygote.log()}`, { code: "SANDBOX_UNAVAILABLE" });
      const text = exit.kind === "lost" ? `The sandbox stopped while the script ran${RETRY}` : NOT_STARTED_MESSAGE;
      return unavailable(text, output);
    }
    return outcomeOf(ending, output, request, durationMs);
  }
}

function unavailable(text: string, output: CapturedOutput): SandboxOutcome {
  return err(failure("SANDBOX_UNAVAILABLE", text, output));
}
