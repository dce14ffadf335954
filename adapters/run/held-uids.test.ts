import { describe, expect, it } from "vitest";
import { HeldUids } from "./held-uids.js";

/** Leases as SandboxUids hands them out, counted. */
function fakeLeases() {
  const leased = new Set<number>();
  let next = 100;
  return {
    leased,
    acquire: () => {
      const uid = next++;
      leased.add(uid);
      return uid;
    },
    release: (uid: number) => leased.delete(uid),
  };
}

describe("HeldUids", () => {
  it("leases a uid once and hands it to the next run when the last one gives it back", () => {
    const leases = fakeLeases();
    const uids = new HeldUids(leases);
    const first = uids.acquire();
    uids.release(first);
    expect(uids.acquire()).toBe(first);
    expect(leases.leased).toEqual(new Set([first]));
  });

  it("leases as many as runs are alive at once, never one uid to two runs", () => {
    const leases = fakeLeases();
    const uids = new HeldUids(leases);
    const [a, b, c] = [uids.acquire(), uids.acquire(), uids.acquire()];
    expect(new Set([a, b, c]).size).toBe(3);
    uids.release(b);
    uids.release(b);
    expect([uids.acquire(), uids.acquire()]).toEqual([b, 103]);
    expect(leases.leased.size).toBe(4);
  });

  it("gives back at once the lease of every uid given back, and keeps the one never given back", () => {
    const leases = fakeLeases();
    const uids = new HeldUids(leases);
    const [a, kept, c] = [uids.acquire(), uids.acquire(), uids.acquire()];
    uids.release(a);
    uids.release(c);
    uids.releaseIdle();
    expect(leases.leased).toEqual(new Set([kept]));
    // Nothing idle is left to hand out: the next run gets a new lease, never the kept uid.
    const next = uids.acquire();
    expect(next).toBe(103);
    expect(leases.leased).toEqual(new Set([kept, next]));
  });
});
