import { describe, expect, it } from "vitest";
import { zygoteEnding, type ZygoteRunObservation } from "./zygote-ending.js";

const observed = (fields: Partial<ZygoteRunObservation>): ZygoteRunObservation => ({
  supervisor: { kind: "exited", exitCode: 0 },
  report: { kind: "none" },
  timedOut: false,
  oomKilled: false,
  forkServerLost: false,
  ...fields,
});

describe("zygoteEnding", () => {
  it("a supervisor that could not set the run up is the sandbox's failure, with its reason", () => {
    expect(zygoteEnding(observed({ supervisor: { kind: "setup-failed", message: "OSError: unshare" } }))).toEqual({
      failed: "the run's sandbox could not be set up: OSError: unshare",
    });
  });

  it("a supervisor gone silent is the sandbox's failure: with its fork server, or killed otherwise", () => {
    expect(zygoteEnding(observed({ supervisor: { kind: "lost" }, forkServerLost: true }))).toEqual({ failed: "the fork server stopped while the script ran" });
    expect(zygoteEnding(observed({ supervisor: { kind: "lost" } }))).toEqual({ failed: "the run's supervisor was killed" });
  });

  it("a supervisor gone silent while the cgroup counted an OOM kill is the memory limit", () => {
    expect(zygoteEnding(observed({ supervisor: { kind: "lost" }, oomKilled: true }))).toMatchObject({ memoryLimitHit: true, signal: "SIGKILL" });
  });

  it("an exit status is the script's own ending", () => {
    expect(zygoteEnding(observed({ supervisor: { kind: "exited", exitCode: 3 } }))).toMatchObject({ exitCode: 3, signal: null, memoryLimitHit: false });
  });

  it("names the signal that ended the run", () => {
    expect(zygoteEnding(observed({ supervisor: { kind: "signalled", signal: 11 } }))).toMatchObject({ signal: "SIGSEGV", exitCode: null, memoryLimitHit: false });
  });

  it("a SIGKILL is the memory limit when the cgroup counted an OOM kill, the time limit when the server stopped the run, else the hard CPU limit", () => {
    const killed = { kind: "signalled", signal: 9 } as const;
    expect(zygoteEnding(observed({ supervisor: killed, oomKilled: true }))).toMatchObject({ memoryLimitHit: true, signal: "SIGKILL" });
    expect(zygoteEnding(observed({ supervisor: killed, timedOut: true }))).toMatchObject({ memoryLimitHit: false, timedOut: true, signal: "SIGKILL" });
    expect(zygoteEnding(observed({ supervisor: killed }))).toMatchObject({ memoryLimitHit: false, timedOut: false, signal: "SIGXCPU" });
  });

  it("an OOM kill of one of the script's processes is the memory limit even when the script itself exited", () => {
    expect(zygoteEnding(observed({ supervisor: { kind: "exited", exitCode: 1 }, oomKilled: true }))).toMatchObject({ memoryLimitHit: true });
  });
});
