import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { CgroupSlot } from "../cgroups/cgroup-slots.js";
import { RunLeases } from "./run-leases.js";
import { MAX_QUARANTINED_UIDS } from "./slot-quarantine.js";

/** Uids 1, 2, 3, ... handed out lowest first, the way SandboxUids reuses the last one given back. */
function uidPool() {
  const free = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
  const out = new Set<number>();
  return {
    out,
    acquire: () => {
      const uid = free.shift();
      if (uid === undefined) throw new Error("no free uid");
      out.add(uid);
      return uid;
    },
    release: (uid: number) => {
      if (!out.delete(uid)) throw new Error(`uid ${uid} given back twice`);
      free.unshift(uid);
    },
  };
}

/** A slot per uid that is empty unless the test says otherwise. */
function slots() {
  const stuck = new Set<number>();
  const slot = (uid: number): CgroupSlot =>
    ({
      procsFiles: [`/cgroup/uid-${uid}/cgroup.procs`],
      isEmpty: () => !stuck.has(uid),
      killAll: async () => undefined,
      prepare: () => undefined,
      limit: () => undefined,
      close: () => undefined,
    }) as Partial<CgroupSlot> as CgroupSlot;
  return { stuck, slot };
}

const LIMITS = { memoryMb: 64, maxPids: 64, cpuCores: 1 };

describe("RunLeases", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("gives a lease back once, however often its holders say so: its uid never goes to two runs", async () => {
    const uids = uidPool();
    const leases = new RunLeases({ uids, slots: slots().slot, uidsStayHeld: false, onStuck: () => undefined });
    const first = await leases.lease(LIMITS);
    leases.release(first);
    leases.release(first);
    const second = await leases.lease(LIMITS);
    expect(second.uid).toBe(first.uid);
    // A stale release of the first lease does not give back the second, which holds the same uid.
    leases.release(first);
    const third = await leases.lease(LIMITS);
    expect(third.uid).not.toBe(second.uid);
    expect(uids.out).toEqual(new Set([second.uid, third.uid]));
    leases.close();
  });

  it("keeps the uid of a slot that is not empty out of use until it is", async () => {
    const uids = uidPool();
    const { stuck, slot } = slots();
    const messages: string[] = [];
    const leases = new RunLeases({ uids, slots: slot, uidsStayHeld: false, onStuck: (message) => messages.push(message) });
    const lease = await leases.lease(LIMITS);
    stuck.add(lease.uid);
    leases.release(lease);
    expect(uids.out.has(lease.uid)).toBe(true);
    expect(messages).toEqual([expect.stringContaining(`uid-${lease.uid}`)]);
    expect((await leases.lease(LIMITS)).uid).not.toBe(lease.uid);
    stuck.delete(lease.uid);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(uids.out.has(lease.uid)).toBe(false);
    leases.close();
  });

  it(`admits at most ${MAX_QUARANTINED_UIDS} runs answered with their slots not empty, counting them from the answer`, async () => {
    const uids = uidPool();
    const { stuck, slot } = slots();
    const leases = new RunLeases({ uids, slots: slot, uidsStayHeld: false, onStuck: () => undefined });
    const held = [];
    for (let i = 0; i <= MAX_QUARANTINED_UIDS; i++) held.push(await leases.lease(LIMITS));
    // All answered at once, none given back yet: the last one finds no place.
    const admitted = held.map((lease) => leases.admitStuck(lease));
    expect(admitted.filter(Boolean)).toHaveLength(MAX_QUARANTINED_UIDS);
    expect(admitted.at(-1)).toBe(false);
    for (const lease of held.slice(0, MAX_QUARANTINED_UIDS)) {
      stuck.add(lease.uid);
      leases.release(lease);
    }
    expect(leases.quarantined).toBe(MAX_QUARANTINED_UIDS);
    expect(leases.admitStuck(held.at(-1)!)).toBe(false);
    // One slot empties: its place goes to the run that waited.
    stuck.delete(held[0]!.uid);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(leases.admitStuck(held.at(-1)!)).toBe(true);
    leases.close();
  });
});
