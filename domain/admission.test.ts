import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type Admission, AdmissionGate, type AdmissionLimits } from "./admission.js";

const gate = (limits: Partial<AdmissionLimits> = {}) => new AdmissionGate({ maxConcurrent: 2, maxQueued: 2, maxWaitMs: 1000, ...limits });

/** Tracks a pending acquire so a test can ask whether it has settled yet. */
function track(promise: Promise<Admission>) {
  const state: { settled?: Admission } = {};
  void promise.then((admission) => {
    state.settled = admission;
  });
  return state;
}

const admitted = (admission: Admission | undefined) => {
  if (!admission?.admitted) throw new Error(`expected an admission, got ${JSON.stringify(admission)}`);
  return admission;
};

/** Lets resolved promises run their callbacks. */
const flush = () => vi.advanceTimersByTimeAsync(0);

describe("AdmissionGate", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("admits up to maxConcurrent at once and queues the rest", async () => {
    const g = gate({ maxConcurrent: 2 });
    const first = await g.acquire();
    const second = await g.acquire();
    expect(first.admitted).toBe(true);
    expect(second.admitted).toBe(true);
    expect(g.running).toBe(2);

    const third = track(g.acquire());
    await flush();
    expect(third.settled).toBeUndefined();
    expect(g.running).toBe(2);
    expect(g.queued).toBe(1);
  });

  it("refuses with queue-full, at once, when maxQueued requests already wait", async () => {
    const g = gate({ maxConcurrent: 1, maxQueued: 2 });
    await g.acquire();
    const waiters = [track(g.acquire()), track(g.acquire())];
    expect(g.queued).toBe(2);

    // No timer needs to fire: the refusal is immediate.
    await expect(g.acquire()).resolves.toEqual({ admitted: false, reason: "queue-full" });
    expect(g.queued).toBe(2);
    expect(g.running).toBe(1);
    await flush();
    expect(waiters.map((w) => w.settled)).toEqual([undefined, undefined]);
  });

  it("with maxQueued 0 refuses as soon as every slot is taken", async () => {
    const g = gate({ maxConcurrent: 1, maxQueued: 0 });
    expect((await g.acquire()).admitted).toBe(true);
    await expect(g.acquire()).resolves.toEqual({ admitted: false, reason: "queue-full" });
  });

  it("refuses a waiter with waited-too-long after maxWaitMs and drops it from the queue", async () => {
    const g = gate({ maxConcurrent: 1, maxWaitMs: 1000 });
    const holder = admitted(await g.acquire());
    const waiter = track(g.acquire());

    await vi.advanceTimersByTimeAsync(999);
    expect(waiter.settled).toBeUndefined();
    expect(g.queued).toBe(1);

    await vi.advanceTimersByTimeAsync(1);
    expect(waiter.settled).toEqual({ admitted: false, reason: "waited-too-long" });
    expect(g.queued).toBe(0);

    // The timed-out waiter is never granted a slot later, so the count stays right.
    holder.release();
    expect(g.running).toBe(0);
  });

  it("release grants the slot to the longest waiter, in order", async () => {
    const g = gate({ maxConcurrent: 1, maxQueued: 5 });
    const holder = admitted(await g.acquire());
    const a = track(g.acquire());
    const b = track(g.acquire());

    holder.release();
    await flush();
    expect(a.settled?.admitted).toBe(true);
    expect(b.settled).toBeUndefined();
    expect(g.running).toBe(1);
    expect(g.queued).toBe(1);

    admitted(a.settled).release();
    await flush();
    expect(b.settled?.admitted).toBe(true);
    expect(g.running).toBe(1);
    expect(g.queued).toBe(0);

    admitted(b.settled).release();
    expect(g.running).toBe(0);
  });

  it("a granted waiter's timer is cancelled: it is not refused later", async () => {
    const g = gate({ maxConcurrent: 1, maxWaitMs: 1000 });
    const holder = admitted(await g.acquire());
    const waiter = track(g.acquire());
    await vi.advanceTimersByTimeAsync(500);
    holder.release();
    await flush();
    expect(waiter.settled?.admitted).toBe(true);

    await vi.advanceTimersByTimeAsync(5000);
    expect(waiter.settled?.admitted).toBe(true);
    expect(g.running).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("a waiter whose signal is aborted leaves the queue at once, and the slot it waited for goes to the next", async () => {
    const g = gate({ maxConcurrent: 1, maxQueued: 1, maxWaitMs: 60_000 });
    const holder = admitted(await g.acquire());
    const client = new AbortController();
    const leaving = track(g.acquire(client.signal));
    await flush();
    expect(g.queued).toBe(1);
    // The queue is full until it leaves.
    await expect(g.acquire()).resolves.toEqual({ admitted: false, reason: "queue-full" });

    client.abort();
    await flush();
    expect(leaving.settled).toEqual({ admitted: false, reason: "cancelled" });
    expect(g.queued).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    const next = track(g.acquire());
    holder.release();
    await flush();
    expect(next.settled?.admitted).toBe(true);
    expect(g.running).toBe(1);
  });

  it("a request whose signal is already aborted is not admitted, even to a free slot", async () => {
    const g = gate({ maxConcurrent: 2 });
    await expect(g.acquire(AbortSignal.abort())).resolves.toEqual({ admitted: false, reason: "cancelled" });
    expect(g.running).toBe(0);
  });

  it("an abort after a waiter was admitted changes nothing: the admission holds its slot until released", async () => {
    const g = gate({ maxConcurrent: 1, maxWaitMs: 60_000 });
    const holder = admitted(await g.acquire());
    const client = new AbortController();
    const waiter = track(g.acquire(client.signal));
    holder.release();
    await flush();
    client.abort();
    await flush();
    expect(waiter.settled?.admitted).toBe(true);
    expect(g.running).toBe(1);
    admitted(waiter.settled).release();
    expect(g.running).toBe(0);
  });

  it("a second release of the same admission is harmless", async () => {
    const g = gate({ maxConcurrent: 2, maxQueued: 5 });
    const first = admitted(await g.acquire());
    admitted(await g.acquire());
    const waiterA = track(g.acquire());
    const waiterB = track(g.acquire());

    first.release();
    first.release();
    first.release();
    await flush();

    // One slot came free, so exactly one waiter got in and the count did not go below reality.
    expect(waiterA.settled?.admitted).toBe(true);
    expect(waiterB.settled).toBeUndefined();
    expect(g.running).toBe(2);
    expect(g.queued).toBe(1);
  });

  it("never lets more than maxConcurrent run however releases and acquires interleave", async () => {
    const g = gate({ maxConcurrent: 3, maxQueued: 100, maxWaitMs: 60_000 });
    const pending = Array.from({ length: 20 }, () => track(g.acquire()));
    await flush();
    const released = new Set<(typeof pending)[number]>();
    let peak = g.running;
    while (released.size < pending.length) {
      const next = pending.find((p) => p.settled?.admitted && !released.has(p));
      if (!next) throw new Error("a waiter was never admitted");
      released.add(next);
      admitted(next.settled).release();
      await flush();
      peak = Math.max(peak, g.running);
    }
    expect(peak).toBe(3);
    expect(pending.every((p) => p.settled?.admitted)).toBe(true);
    expect(g.running).toBe(0);
    expect(g.queued).toBe(0);
  });
});
