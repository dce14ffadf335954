import type { CgroupSlot, SlotLimits } from "../cgroups/cgroup-slots.js";
import { MAX_QUARANTINED_UIDS, SlotQuarantine } from "./slot-quarantine.js";

/** A run's host uid and its cgroup slot (none on a host without usable cgroups), held together. */
export interface RunLease {
  readonly uid: number;
  readonly slot: CgroupSlot | undefined;
}

/** A lease on a host with cgroups: what the fork server's runs, and fork servers themselves, need. */
export interface SlottedLease extends RunLease {
  readonly slot: CgroupSlot;
}

/** Where uids come from: leased host-wide per run (SandboxUids), or held between runs (HeldUids). */
export interface UidSource {
  acquire(): number;
  release(uid: number): void;
}

export interface RunLeasesOptions {
  readonly uids: UidSource;
  /** Each uid's slot; undefined where the host has no usable cgroups. */
  readonly slots: ((uid: number) => CgroupSlot) | undefined;
  /**
   * The uids stay this process's between runs (HeldUids): their slots' objects are kept, with the
   * limits they wrote. Leased host-wide per run, another process may write a slot meanwhile.
   */
  readonly uidsStayHeld: boolean;
  /** Told of a slot that could not be emptied (its uid is kept out of use). */
  readonly onStuck: (message: string) => void;
}

/**
 * The one place where a run's uid and slot are taken and given back. Taken, the slot is emptied
 * of anything an earlier holder left and given the run's limits before anything of the run
 * starts; given back, the uid goes to the next run only once its slot is empty (SlotQuarantine).
 */
export class RunLeases {
  private readonly quarantine: SlotQuarantine;
  private readonly heldSlots = new Map<number, CgroupSlot>();
  /** Leases not yet given back: each is given back once, whoever calls (a later lease of the same uid is another). */
  private readonly leased = new Set<RunLease>();
  /** Leases admitted to the quarantine and not yet given back. */
  private readonly stuck = new Set<RunLease>();

  constructor(private readonly options: RunLeasesOptions) {
    this.quarantine = new SlotQuarantine(options.onStuck);
  }

  /**
   * A uid and its slot, emptied and set to these limits, its counters noted for the run (unless
   * `countersAtHandOver`: a run forked ahead notes them when it takes its request's limits).
   */
  async lease(limits: SlotLimits, { countersAtHandOver = false } = {}): Promise<RunLease> {
    const uid = this.options.uids.acquire();
    let slot: CgroupSlot | undefined;
    try {
      slot = this.slotOf(uid);
    } catch (error) {
      this.options.uids.release(uid);
      throw error;
    }
    const lease: RunLease = { uid, slot };
    this.leased.add(lease);
    try {
      // What outlived an earlier holder must not share this run's limits.
      await lease.slot?.killAll();
      if (countersAtHandOver) lease.slot?.limit(limits);
      else lease.slot?.prepare(limits);
      return lease;
    } catch (error) {
      this.release(lease);
      throw error;
    }
  }

  /** A lease that certainly has a slot; throws on a host without cgroups. */
  async leaseWithSlot(limits: SlotLimits, options: { countersAtHandOver?: boolean } = {}): Promise<SlottedLease> {
    if (this.options.slots === undefined) throw new Error("no usable cgroups on this host: a run here needs a cgroup slot");
    return (await this.lease(limits, options)) as SlottedLease;
  }

  /** Gives the uid back: now if its slot is empty, else once it is. */
  release(lease: RunLease): void {
    if (!this.leased.delete(lease)) return;
    this.stuck.delete(lease);
    const { uid, slot } = lease;
    this.quarantine.releaseWhenEmpty(slot, () => {
      if (!this.options.uidsStayHeld && slot !== undefined) {
        this.heldSlots.delete(uid);
        slot.close();
      }
      this.options.uids.release(uid);
    });
  }

  /**
   * Takes a place in the quarantine for a lease about to be given back with its slot not
   * empty, if one is free (it counts from now, so runs answered at once cannot overfill it).
   */
  admitStuck(lease: RunLease): boolean {
    if (this.stuck.has(lease)) return true;
    if (this.quarantined >= MAX_QUARANTINED_UIDS) return false;
    this.stuck.add(lease);
    return true;
  }

  /** Uids kept out of use until their slots are empty, or about to be. */
  get quarantined(): number {
    return this.quarantine.size + this.stuck.size;
  }

  /** A last look at the quarantined slots, then every slot's open files closed. */
  close(): void {
    this.quarantine.close();
    for (const slot of this.heldSlots.values()) slot.close();
    this.heldSlots.clear();
  }

  private slotOf(uid: number): CgroupSlot | undefined {
    let slot = this.heldSlots.get(uid);
    if (slot === undefined && this.options.slots !== undefined) {
      slot = this.options.slots(uid);
      this.heldSlots.set(uid, slot);
    }
    return slot;
  }
}
