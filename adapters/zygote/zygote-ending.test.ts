import { describe, expect, it } from "vitest";
import { zygoteEnding, type ZygoteRunObservation } from "./zygote-ending.js";

const observed = (fields: Partial<ZygoteRunObservation>): ZygoteRunObservation => ({
  supervisor: { kind: "exited", exitCode: 0 },
  report: { kind: "none" },
  timedOut: false,
  oomKilled: undefined,
  forkServerLost: false,
  ...fields,
});

describe("zygoteEnding", () => {
  it("a supervisor that could not set the run up is the sandbox's failure, with its reason", () => {
    expect(zygoteEnding(observed({ supervisor: { kind: "setup-failed", message: "OSError: unshare" } }))).toEqual({
      failed: "the run's sandbox could not be set up: OSError: unshare",
    });
  });

  it("a supervisor gone silent with its fork server is the sandbox's failure", () => {
    expect(zygoteEnding(observed({ supervisor: { kind: "lost" }, forkServerLost: true }))).toEqual({
      failed: "the fork server stopped while the script ran",
    });
  });

  it("an exit status is the script's own ending", () => {
    expect(zygoteEnding(observed({ supervisor: { kind: "exited", exitCode: 3 } }))).toMatchObject({ exitCode: 3, signal: null, memoryLimitHit: false });
  });

  it("names the signal that ended the run", () => {
    expect(zygoteEnding(observed({ supervisor: { kind: "signalled", signal: 11 } }))).toMatchObject({ signal: "SIGSEGV", exitCode: null, memoryLimitHit: false });
  });

  it("a SIGKILL is the memory limit when no cgroup can be asked, unless the server killed the run at its time limit", () => {
    expect(zygoteEnding(observed({ supervisor: { kind: "signalled", signal: 9 } }))).toMatchObject({ memoryLimitHit: true });
    expect(zygoteEnding(observed({ supervisor: { kind: "signalled", signal: 9 }, timedOut: true }))).toMatchObject({ memoryLimitHit: false, timedOut: true });
  });

  it("the run's cgroup decides whether memory ran out, whatever the signal", () => {
    expect(zygoteEnding(observed({ supervisor: { kind: "signalled", signal: 9 }, oomKilled: false }))).toMatchObject({ memoryLimitHit: false });
    expect(zygoteEnding(observed({ supervisor: { kind: "exited", exitCode: 1 }, oomKilled: true }))).toMatchObject({ memoryLimitHit: true });
    expect(zygoteEnding(observed({ supervisor: { kind: "lost" }, oomKilled: true }))).toMatchObject({ memoryLimitHit: true, signal: "SIGKILL" });
  });
});
