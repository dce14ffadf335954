import type { CgroupSlot } from "../cgroups/cgroup-slots.js";

/** How often a quarantined slot is looked at again. */
const RECHECK_MS = 5_000;
/**
 * Uids one server process keeps out of use at most while their slots empty. Each such slot may
 * hold up to its run's memory limit until its processes are gone; past this bound a run is
 * answered only once its slot is empty (RunLeases.admitStuck, RunLifecycle).
 */
export const MAX_QUARANTINED_UIDS = 8;

/**
 * Gives a sandbox uid back only once its cgroup slot is empty. A slot that could not be emptied
 * (a process stuck in the kernel, an exited one nobody reaps) keeps its uid out of use, looked at
 * again every few seconds, instead of handing it to the next run, which would wait for the slot
 * and fail. Uids are reused most recently freed first: without this every later run would.
 */
export class SlotQuarantine {
  private readonly waiting = new Map<NodeJS.Timeout, { slot: CgroupSlot; release: () => void }>();
  private closed = false;

  constructor(private readonly onStuck: (message: string) => void) {}

  /** Uids still being looked at (kept out of use until their slot is empty). */
  get size(): number {
    return this.waiting.size;
  }

  /** Calls `release` now if the slot is empty (or there is none), else once it is (never after close()). */
  releaseWhenEmpty(slot: CgroupSlot | undefined, release: () => void): void {
    if (slot === undefined || slot.isEmpty()) {
      release();
      return;
    }
    this.onStuck(`cgroup slot ${slot.procsFiles[0]} could not be emptied: its uid is kept out of use until it is (${this.waiting.size + 1} kept out)`);
    if (!this.closed) this.waitFor(slot, release);
  }

  /**
   * Stops looking, after a last look: a uid whose slot is still not empty stays out of use (its
   * host-wide lease ends with this process).
   */
  close(): void {
    this.closed = true;
    const waiting = [...this.waiting];
    this.waiting.clear();
    for (const [timer, { slot, release }] of waiting) {
      clearTimeout(timer);
      try {
        if (slot.isEmpty()) release();
      } catch (error) {
        this.onStuck(`cgroup slot ${slot.procsFiles[0]} could not be looked at on close: ${String(error)}`);
      }
    }
  }

  private waitFor(slot: CgroupSlot, release: () => void): void {
    const timer = setTimeout(() => {
      this.waiting.delete(timer);
      if (slot.isEmpty()) release();
      else this.waitFor(slot, release);
    }, RECHECK_MS);
    timer.unref();
    this.waiting.set(timer, { slot, release });
  }
}
