import { describe, expect, it } from "vitest";
import { type NsjailObservation, nsjailEnding } from "./nsjail-ending.js";

/** nsjail 3.6's log lines (fd 4), as seen on the dev machine; the timestamps do not matter. */
const line = (level: string, text: string) => `[${level}][2026-11-22T00:05:39+0000] ${text}\n`;
const START = line("I", "Mode: STANDALONE_ONCE") + line("I", "Mount: '/usr' -> '/usr' type:'' options:''");
/** A bind mount whose source is missing: the child fails before it runs the interpreter. */
const LAUNCH_FAILED =
  START +
  line("W", "[1] mountSinglePoint():229 mount('/nonexistent' -> '/run/user/nsjail.0.root//sandbox/harness'): No such file or directory") +
  line("E", "[1] buildMountTree():328 Failed to mount mandatory point: '/sandbox/harness'") +
  line("E", "[1] initCloneNs():270 Failed to build mount tree") +
  line("W", "[7757] runChild():526 Received error message from the child process before it has been executed") +
  line("E", "[7757] standaloneMode():274 Couldn't launch the child process");

const observed = (fields: Partial<NsjailObservation>): NsjailObservation => ({
  report: { kind: "none" },
  exitCode: null,
  signal: null,
  timedOut: false,
  log: START,
  oomKilled: false,
  limitsHit: { memory: false, processes: false },
  ...fields,
});

describe("nsjailEnding", () => {
  it("a jail that could not launch its child is nsjail's failure, however the half-started child ended", () => {
    // Which of the two end lines follows is a race between the child's exit and nsjail's kill.
    expect(
      nsjailEnding(
        observed({ exitCode: 255, log: `${LAUNCH_FAILED}${line("I", "pid=7758 ([STANDALONE MODE]) terminated with signal: SIGKILL (9), (PIDs left: 0)")}` }),
      ),
    ).toBe("sandbox-failed");
    expect(
      nsjailEnding(observed({ exitCode: 255, log: `${LAUNCH_FAILED}${line("I", "pid=7758 ([STANDALONE MODE]) exited with status: 255, (PIDs left: 0)")}` })),
    ).toBe("sandbox-failed");
    expect(nsjailEnding(observed({ exitCode: 255, log: LAUNCH_FAILED }))).toBe("sandbox-failed");
  });

  const KILLED = `${START}${line("I", "pid=42 ([STANDALONE MODE]) terminated with signal: SIGKILL (9), (PIDs left: 0)")}`;

  it("a SIGKILL is the memory limit only when the cgroup counted an OOM kill", () => {
    expect(nsjailEnding(observed({ exitCode: 137, log: KILLED, oomKilled: true }))).toMatchObject({ signal: "SIGKILL", memoryLimitHit: true, timedOut: false });
  });

  it("a SIGKILL without an OOM kill or a timeout is the hard CPU-time limit", () => {
    expect(nsjailEnding(observed({ exitCode: 137, log: KILLED, oomKilled: false }))).toMatchObject({ signal: "SIGXCPU", memoryLimitHit: false });
    expect(nsjailEnding(observed({ exitCode: 137, log: KILLED, oomKilled: undefined }))).toMatchObject({ signal: "SIGXCPU", memoryLimitHit: false });
  });

  it("our own timeout kill stays a timeout", () => {
    expect(nsjailEnding(observed({ exitCode: 137, log: KILLED, timedOut: true }))).toMatchObject({ signal: "SIGKILL", timedOut: true, memoryLimitHit: false });
  });

  it("a child that ran and exited 255 itself (sys.exit(255)) is the script's own ending", () => {
    const log = `${START}${line("I", "pid=42 ([STANDALONE MODE]) exited with status: 255, (PIDs left: 0)")}`;
    expect(nsjailEnding(observed({ exitCode: 255, log }))).toMatchObject({ exitCode: 255, signal: null, memoryLimitHit: false });
  });

  it("a child that exited 137 itself (os._exit(137)) was not killed by SIGKILL", () => {
    const log = `${START}${line("I", "pid=42 ([STANDALONE MODE]) exited with status: 137, (PIDs left: 0)")}`;
    expect(nsjailEnding(observed({ exitCode: 137, log }))).toMatchObject({ exitCode: 137, signal: null, memoryLimitHit: false });
  });

  it("no end line and no report: nsjail failed before starting anything", () => {
    expect(nsjailEnding(observed({ exitCode: 255, log: `${START}${line("F", "Couldn't parse configuration from '/x.cfg' file")}` }))).toBe("sandbox-failed");
  });
});
