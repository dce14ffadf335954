import { describe, expect, it } from "vitest";
import type { CgroupSlot, SlotEvents } from "../cgroups/cgroup-slots.js";
import type { RunLease } from "./run-leases.js";
import { type LiveRun, type RunEnd, RunLifecycle } from "./run-lifecycle.js";

/** A run whose end, answer and stop the test drives; it records what the lifecycle did to it. */
function fakeRun() {
  let end!: (exit: string) => void;
  let speak!: () => void;
  const calls: string[] = [];
  const live: LiveRun<string> = {
    handOver: () => calls.push("hand-over"),
    ended: new Promise((resolve) => (end = resolve)),
    stop: () => {
      calls.push("stop");
    },
    drain: async () => {
      calls.push("drain");
    },
    spoken: new Promise((resolve) => (speak = resolve)),
  };
  return { live, calls, end: (exit: string) => end(exit), speak: () => speak() };
}

/** A lease whose slot is empty at once and counts the reads of its counters, each saying an OOM kill. */
function countingLease(): { lease: RunLease; reads: () => number } {
  let reads = 0;
  const events: SlotEvents = { oomKilled: true, limitsHit: { memory: true, processes: false } };
  const slot: Partial<CgroupSlot> = {
    emptied: async () => true,
    isEmpty: () => true,
    killEverything: () => undefined,
    sincePrepare: () => {
      reads++;
      return events;
    },
  };
  return { lease: { uid: 1, slot: slot as CgroupSlot }, reads: () => reads };
}

const lifecycle = () => new RunLifecycle({ leases: undefined, endGraceMs: 1000, onLog: () => undefined });
const REQUEST = { script: "", timeoutMs: 60_000, memoryMb: 64 };
const settle = () => new Promise((resolve) => setTimeout(resolve, 10));

describe("RunLifecycle", () => {
  it("answers a run that has spoken at once, stops it, and releases its lease only once it has ended", async () => {
    const run = fakeRun();
    const released: string[] = [];
    const answer = lifecycle().finish(
      run.live,
      undefined,
      REQUEST,
      (end: RunEnd<string>) => end,
      async () => {
        released.push("released");
      },
    );
    run.speak();
    const end = await answer;
    expect([end.exit, end.timedOut]).toEqual([undefined, false]);
    await settle();
    expect(run.calls).toEqual(["hand-over", "stop"]);
    expect(released).toEqual([]);
    run.end("exited 0");
    await settle();
    expect(run.calls).toEqual(["hand-over", "stop", "drain"]);
    expect(released).toEqual(["released"]);
  });

  it("answers a run that never speaks once it has ended, after its lease is released", async () => {
    const run = fakeRun();
    const order: string[] = [];
    const answer = lifecycle()
      .finish(
        run.live,
        undefined,
        REQUEST,
        (end: RunEnd<string>) => end,
        async () => {
          order.push("released");
        },
      )
      .then((end) => {
        order.push("answered");
        return end;
      });
    run.end("killed");
    expect((await answer).exit).toBe("killed");
    expect(order).toEqual(["released", "answered"]);
    expect(run.calls).toEqual(["hand-over", "stop", "drain"]);
  });

  it("reads the slot's counters once per run: when it has spoken, or else at its end", async () => {
    for (const speaks of [true, false]) {
      const run = fakeRun();
      const { lease, reads } = countingLease();
      let released!: () => void;
      const over = new Promise<void>((resolve) => (released = resolve));
      const answer = lifecycle().finish(
        run.live,
        lease,
        REQUEST,
        (end: RunEnd<string>) => end,
        async () => released(),
      );
      if (speaks) run.speak();
      else run.end("exited 0");
      const end = await answer;
      run.end("exited 0");
      await over;
      expect([speaks, end.oomKilled, end.limitsHit?.memory, reads()]).toEqual([speaks, true, true, 1]);
    }
  });
});
