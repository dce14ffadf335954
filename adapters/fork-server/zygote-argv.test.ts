import { describe, expect, it } from "vitest";
import { values } from "../../test/support/argv.js";
import { harnessBootstrap, JAIL_HARNESS_DIR } from "../python/harness-package.js";
import { buildZygoteArgv, insideUid, RUN_UID_BASE, ZYGOTE_CHANNELS_DIR, ZYGOTE_PROC_DIR, type ZygoteArgvOptions } from "./zygote-argv.js";

const base: ZygoteArgvOptions = {
  configPath: "/run/x/nsjail.cfg",
  pythonExecutable: "/app/.venv/bin/python",
  venvDir: "/app/.venv",
  harnessDir: "/tmp/python-exec-harness-0-0123456789abcdef",
  preloadModules: ["numpy", "pandas"],
  pythonFlags: ["-I", "-u"],
  env: { PATH: "/sandbox/venv/bin:/usr/bin:/bin", HOME: "/sandbox/work" },
  zygoteUid: 921_020,
  runUids: { first: 920_000, count: 1016 },
  channelsDir: "/run/x/zygote-1",
  seccompPolicy: "ERRNO(1) { ptrace } DEFAULT ALLOW",
  childSeccomp: [{ nr: 101, errno: 1 }],
  logFd: 4,
  resultFd: 3,
};

describe("buildZygoteArgv", () => {
  it("maps the fork server to a uid of its own and the whole run range below RUN_UID_BASE", () => {
    const argv = buildZygoteArgv(base);
    expect(values(argv, "--user")).toEqual(["65534:921020:1", `${RUN_UID_BASE}:920000:1016`]);
    expect(values(argv, "--group")).toEqual(["65534:921020:1", `${RUN_UID_BASE}:920000:1016`]);
  });

  it("keeps exactly the capabilities that building a run's namespaces needs", () => {
    expect(values(buildZygoteArgv(base), "--cap")).toEqual(["CAP_SYS_ADMIN", "CAP_SETUID", "CAP_SETGID", "CAP_KILL"]);
  });

  it("loads the config first, logs to its own fd and gives the seccomp policy on the command line", () => {
    const argv = buildZygoteArgv(base);
    expect(argv.slice(0, 4)).toEqual(["--log_fd", "4", "--config", "/run/x/nsjail.cfg"]);
    expect(values(argv, "--seccomp_string")).toEqual(["ERRNO(1) { ptrace } DEFAULT ALLOW"]);
    expect(values(argv, "--pass_fd")).toEqual(["3"]);
    expect(values(argv, "--time_limit")).toEqual(["0"]);
  });

  it("binds the venv, the harness package and the channel directory read-only and mounts /proc for the fork server only", () => {
    const argv = buildZygoteArgv(base);
    expect(values(argv, "--bindmount_ro")).toEqual([
      "/app/.venv/lib:/sandbox/venv/lib",
      "/app/.venv/pyvenv.cfg:/sandbox/venv/pyvenv.cfg",
      "/app/.venv/bin/python:/sandbox/venv/bin/python",
      "/app/.venv/bin/python:/sandbox/venv/bin/python3",
      `/tmp/python-exec-harness-0-0123456789abcdef:${JAIL_HARNESS_DIR}`,
      `/run/x/zygote-1:${ZYGOTE_CHANNELS_DIR}`,
    ]);
    expect(values(argv, "--bindmount")).toEqual([]);
    expect(values(argv, "--mount")).toEqual([`none:${ZYGOTE_PROC_DIR}:proc:rw`]);
  });

  it("runs the harness package's fork server with the directories and the children's seccomp rules", () => {
    const argv = buildZygoteArgv(base);
    const command = argv.slice(argv.indexOf("--") + 1);
    expect(command).toEqual([
      "/sandbox/venv/bin/python3",
      "-I",
      "-u",
      "-c",
      harnessBootstrap(JAIL_HARNESS_DIR, "fork_server"),
      "--preload",
      "numpy,pandas",
      "--result-fd",
      "3",
      "--channels",
      ZYGOTE_CHANNELS_DIR,
      "--proc",
      ZYGOTE_PROC_DIR,
      "--child-seccomp",
      '[{"nr":101,"errno":1}]',
    ]);
    expect(values(argv, "--env")).toEqual(["PATH=/sandbox/venv/bin:/usr/bin:/bin", "HOME=/sandbox/work"]);
  });

  it("refuses a fork server uid that a run could be given, and paths nsjail would split", () => {
    expect(() => buildZygoteArgv({ ...base, zygoteUid: 920_005 })).toThrow(/must not be one its runs/);
    expect(() => buildZygoteArgv({ ...base, channelsDir: "/run/a:b" })).toThrow(/channelsDir/);
    expect(() => buildZygoteArgv({ ...base, zygoteUid: 0 })).toThrow(/zygoteUid/);
  });
});

describe("insideUid", () => {
  it("names a host uid of the run range as the fork server's user namespace does", () => {
    expect(insideUid(920_000, base.runUids)).toBe(RUN_UID_BASE);
    expect(insideUid(920_007, base.runUids)).toBe(RUN_UID_BASE + 7);
    expect(() => insideUid(921_016, base.runUids)).toThrow(/outside/);
    expect(() => insideUid(919_999, base.runUids)).toThrow(/outside/);
  });
});
