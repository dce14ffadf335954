import type { ExecutionRequest } from "../../domain/execution-request.js";
import { message } from "../cgroups/cgroup-preparation.js";
import type { LimitsHit } from "../cgroups/cgroup-slots.js";
import { DRAIN_GRACE_MS, KILL_GRACE_MS } from "./end-graces.js";
import { atDeadline } from "./run-deadline.js";
import type { RunLease, RunLeases } from "./run-leases.js";

/**
 * A run's processes, started in their lease and waiting for the script: what differs between a
 * jail per run, a fork server's child and a plain subprocess. Everything else of a run's life
 * (its deadline, the kill, the wait for its processes to go, the answer, the lease given back)
 * is RunLifecycle's, the same for every backend.
 */
export interface LiveRun<Exit> {
  /** Gives the harness its request: the time limit counts from here. */
  handOver(): void;
  /** The run's own process ended and was reaped, and how. */
  readonly ended: Promise<Exit>;
  /**
   * Stops the run the backend's own exact way (the fork server's kill order; SIGTERM, then
   * SIGKILL, to nsjail; the uid's processes of a subprocess), at the deadline and again once the
   * run has ended; what it kills outside the run's slot must be dead when it resolves.
   */
  stop(): Promise<void> | void;
  /** Waits at most `graceMs` for the output streams to close, then stops reading them. */
  drain(graceMs: number): Promise<void>;
  /** The run is answered while its process has not ended: it could not be killed yet. */
  abandoned?(): void;
  /**
   * Resolves once the run has said all it will (its report complete, its output streams closed
   * by every process that held them), if it does before it ends: the answer then goes out at
   * once, and the kernel's teardown of the process, the slot's emptying and the release of the
   * lease follow it. Never resolves for a run that ends without a report.
   */
  readonly spoken?: Promise<void>;
}

/** How a run ended, as the lifecycle saw it; the backend turns it into the outcome. */
export interface RunEnd<Exit> {
  /** How the run's own process ended; undefined when it had not by the end of its grace. */
  readonly exit: Exit | undefined;
  readonly timedOut: boolean;
  /** From the hand-over to the end (or to the end of the grace). */
  readonly durationMs: number;
  /** The slot's kernel counters since the lease (at the answer); undefined without a slot. */
  readonly oomKilled: boolean | undefined;
  readonly limitsHit: LimitsHit | undefined;
}

/** How often a run whose slot cannot be emptied while the quarantine is full looks again. */
const FULL_QUARANTINE_RECHECK_MS = 1000;

export interface RunLifecycleOptions {
  /** Whose quarantine bounds the runs answered before their slots are empty. */
  readonly leases: RunLeases | undefined;
  /**
   * How long after its time limit (or its own end) a run's processes have to be gone before the
   * run is answered anyway. What is left of it cannot be killed yet (threads in uninterruptible
   * sleep): it stays confined to its slot's limits, and the slot's uid is kept out of use until
   * the slot is empty.
   */
  readonly endGraceMs: number;
  /** For the server log, never for a response. */
  readonly onLog: (message: string) => void;
}

/**
 * The one life of a run, whatever backend started it: hand-over, the deadline, the backend's
 * own kill at the deadline and every process of the slot killed a second later, the wait for
 * the run's process and then its slot to be gone, and the answer. The backend then gives the
 * lease back (RunLeases.release), after whatever else it must clean up under the uid.
 *
 * A run is answered at most `endGraceMs` after its time limit or its own end, whichever is
 * first, even when the kernel cannot end its processes yet; their slot and uid then stay out of
 * use until they are gone. Only when as many slots as the quarantine holds are already waiting
 * does the answer wait for the slot too, so one host keeps a bounded number of such runs.
 */
export class RunLifecycle {
  private closed = false;

  constructor(private readonly options: RunLifecycleOptions) {}

  /**
   * Runs the run's life and answers with `outcome`: once the run has spoken, or else once its
   * process has ended (or the grace after its time limit is over). `release` (the backend's: the
   * lease given back) is called once the whole life is over, also after an early answer.
   */
  async finish<Exit, Outcome>(
    live: LiveRun<Exit>,
    lease: RunLease | undefined,
    request: ExecutionRequest,
    outcome: (end: RunEnd<Exit>) => Outcome,
    release: () => Promise<void>,
  ): Promise<Outcome> {
    const startedAt = performance.now();
    const answer = { early: false };
    const life = this.live(live, lease, request, startedAt, answer);
    const over = life.finally(release);
    const spoken = live.spoken?.then((): RunEnd<Exit> => {
      const slot = lease?.slot;
      const durationMs = Math.round(performance.now() - startedAt);
      return { exit: undefined, timedOut: false, durationMs, ...eventsOf(slot) };
    });
    const ended = life.then((end) => ({ end, early: false }));
    const first = await Promise.race(spoken === undefined ? [ended] : [ended, spoken.then((end) => ({ end, early: true }))]);
    if (first.early) {
      answer.early = true;
      // The rest of the life goes on after the answer, and no failure of it may go unheard.
      over.catch((error: unknown) => this.options.onLog(`a run answered before its end failed to end: ${message(error)}`));
    } else {
      await over;
    }
    return outcome(first.end);
  }

  /**
   * The run's life from the hand-over to its processes gone (or given up) and its output drained.
   * The slot's counters are read at its end only for an answer still to be given: an early one
   * read them when the run had spoken.
   */
  private async live<Exit>(
    live: LiveRun<Exit>,
    lease: RunLease | undefined,
    request: ExecutionRequest,
    startedAt: number,
    answer: { readonly early: boolean },
  ): Promise<RunEnd<Exit>> {
    const slot = lease?.slot;
    const { endGraceMs } = this.options;
    let timedOutAt: number | undefined;
    const timers: NodeJS.Timeout[] = [];
    let giveUp!: (exit: undefined) => void;
    const givenUp = new Promise<undefined>((resolve) => (giveUp = resolve));
    // The backend's stop runs once: at the deadline, or else once the run has ended (to sweep
    // what it left outside a slot). It must be over before the lease is given back: the next run
    // under the uid must not meet a kill still sweeping it.
    let stopping: Promise<void> | undefined;
    // A run that has spoken is stopped at once: nothing it does after its answer may run on
    // outside the concurrency limit; its processes are ending anyway.
    void live.spoken?.then(() => {
      stopping ??= stopped(live);
    });
    const clearDeadline = atDeadline(request, () => {
      timedOutAt = performance.now();
      stopping ??= stopped(live);
      timers.push(
        setTimeout(() => killSlot(slot), KILL_GRACE_MS),
        setTimeout(() => giveUp(undefined), endGraceMs),
      );
    });
    let exit: Exit | undefined;
    let durationMs: number;
    let emptied: boolean;
    try {
      live.handOver();
      exit = await Promise.race([live.ended, givenUp]);
      durationMs = Math.round(performance.now() - startedAt);
      clearDeadline();
      await (stopping ?? stopped(live));
      const answerBy = (timedOutAt ?? performance.now()) + endGraceMs;
      emptied = exit !== undefined && ((await slot?.emptied(answerBy - performance.now())) ?? true);
    } finally {
      clearDeadline();
      for (const timer of timers) clearTimeout(timer);
    }
    if (exit === undefined) live.abandoned?.();
    if (!emptied && lease !== undefined) emptied = await this.roomInQuarantine(lease);
    await live.drain(emptied ? DRAIN_GRACE_MS : 0);
    return { exit, timedOut: timedOutAt !== undefined, durationMs, ...eventsOf(answer.early ? undefined : slot) };
  }

  /** Runs still waiting for a full quarantine are answered at once. */
  close(): void {
    this.closed = true;
  }

  /**
   * A run answered before its slot is empty takes a place in the quarantine. With none free,
   * the answer waits until the slot is empty, or a place frees up, or the backend closes:
   * whether the slot is empty by then.
   */
  private async roomInQuarantine(lease: RunLease): Promise<boolean> {
    const { leases, onLog } = this.options;
    if (leases === undefined || lease.slot === undefined || leases.admitStuck(lease)) return false;
    onLog(`${leases.quarantined} sandbox uids are kept out of use already: this run is answered once its cgroup slot is empty`);
    while (!this.closed && !leases.admitStuck(lease)) {
      if (await lease.slot.emptied(FULL_QUARANTINE_RECHECK_MS)) return true;
    }
    return lease.slot.isEmpty();
  }
}

/** The slot's counters since the lease, read once; none without a slot (or none wanted). */
function eventsOf(slot: RunLease["slot"]): Pick<RunEnd<unknown>, "oomKilled" | "limitsHit"> {
  const events = slot?.sincePrepare();
  return { oomKilled: events?.oomKilled, limitsHit: events?.limitsHit };
}

/** The backend's stop, which reports its own failures: a failure to kill shows as a slot that is not empty. */
async function stopped(live: LiveRun<unknown>): Promise<void> {
  try {
    await live.stop();
  } catch {
    // Reported by the slot that stays full, or by the backend itself.
  }
}

/** Every process of the slot killed directly; a slot that cannot be written shows as one that does not empty. */
function killSlot(slot: RunLease["slot"]): void {
  try {
    slot?.killEverything();
  } catch {
    // Reported when the slot is found not empty.
  }
}
