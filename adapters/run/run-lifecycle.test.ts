import { describe, expect, it } from "vitest";
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
});
