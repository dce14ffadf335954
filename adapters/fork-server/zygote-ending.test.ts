import { describe, expect, it } from "vitest";
import { SETUP_FAILED_EXIT } from "../python/protocol-facts.js";
import { type ZygoteRunObservation, zygoteEnding } from "./zygote-ending.js";

const observed = (fields: Partial<ZygoteRunObservation>): ZygoteRunObservation => ({
  setup: { ready: true },
  exit: { kind: "exited", exitCode: 0 },
  report: { kind: "none" },
  timedOut: false,
  oomKilled: false,
  limitsHit: { memory: false, processes: false },
  ...fields,
});

describe("zygoteEnding", () => {
  it("a run whose set-up failed is the sandbox's failure, with the reason", () => {
    expect(zygoteEnding(observed({ setup: { failed: "OSError: unshare" }, exit: { kind: "exited", exitCode: SETUP_FAILED_EXIT } }))).toEqual({
      failed: "the run's sandbox could not be set up: OSError: unshare",
    });
  });

  it("a run killed at its time limit before its set-up was done is still a timeout", () => {
    expect(
      zygoteEnding(observed({ setup: { failed: "the run ended during its set-up" }, exit: { kind: "signalled", signal: 9 }, timedOut: true })),
    ).toMatchObject({
      timedOut: true,
      signal: "SIGKILL",
    });
  });

  it("a run whose end the fork server could not report (it died) is the sandbox's failure", () => {
    expect(zygoteEnding(observed({ exit: { kind: "lost", reason: "the fork server exited" } }))).toEqual({ failed: "the fork server exited" });
  });

  it("passes on which cgroup limits were hit, for the harness's own blame to be confirmed", () => {
    const limitsHit = { memory: false, processes: true };
    expect(zygoteEnding(observed({ exit: { kind: "exited", exitCode: 0 }, limitsHit }))).toMatchObject({ limitsHit });
    expect(zygoteEnding(observed({ exit: { kind: "signalled", signal: 11 }, limitsHit }))).toMatchObject({ limitsHit });
  });

  it("an exit status is the script's own ending", () => {
    expect(zygoteEnding(observed({ exit: { kind: "exited", exitCode: 3 } }))).toMatchObject({ exitCode: 3, signal: null, memoryLimitHit: false });
  });

  it("names the signal that ended the run", () => {
    expect(zygoteEnding(observed({ exit: { kind: "signalled", signal: 11 } }))).toMatchObject({ signal: "SIGSEGV", exitCode: null, memoryLimitHit: false });
  });

  it("a SIGKILL is the memory limit when the cgroup counted an OOM kill, the time limit when the server killed the run, else the hard CPU limit", () => {
    const killed = { kind: "signalled", signal: 9 } as const;
    expect(zygoteEnding(observed({ exit: killed, oomKilled: true }))).toMatchObject({ memoryLimitHit: true, signal: "SIGKILL" });
    expect(zygoteEnding(observed({ exit: killed, timedOut: true }))).toMatchObject({ memoryLimitHit: false, timedOut: true, signal: "SIGKILL" });
    expect(zygoteEnding(observed({ exit: killed }))).toMatchObject({ memoryLimitHit: false, timedOut: false, signal: "SIGXCPU" });
  });

  it("an OOM kill of one of the script's processes is the memory limit even when the script itself exited", () => {
    expect(zygoteEnding(observed({ exit: { kind: "exited", exitCode: 1 }, oomKilled: true }))).toMatchObject({ memoryLimitHit: true });
  });
});
