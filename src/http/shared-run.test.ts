import { describe, expect, it } from "vitest";
import { SharedRun } from "./shared-run.js";

describe("SharedRun", () => {
  it("is cancelled once every client that joined it has gone, not before", () => {
    const run = new SharedRun();
    const first = new AbortController();
    const repeat = new AbortController();
    run.join(first.signal);
    run.join(repeat.signal);

    first.abort();
    expect(run.cancelled).toBe(false);
    expect(run.signal.aborted).toBe(false);
    repeat.abort();
    expect(run.cancelled).toBe(true);
    expect(run.signal.aborted).toBe(true);
  });

  it("a client already gone when it joins is gone at once", () => {
    const run = new SharedRun();
    run.join(AbortSignal.abort());
    expect(run.cancelled).toBe(true);
  });
});
