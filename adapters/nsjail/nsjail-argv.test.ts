import { describe, expect, it } from "vitest";
import { values } from "../../test/support/argv.js";
import { harnessBootstrap, JAIL_HARNESS_DIR } from "../python/harness-package.js";
import { MAX_FILE_BYTES, MAX_OPEN_FILES, MAX_PROCESSES } from "../run/run-limits.js";
import { buildNsjailArgv, JAIL_VENV_DIR, type NsjailArgvOptions } from "./nsjail-argv.js";

const base: NsjailArgvOptions = {
  configPath: "/app/nsjail.cfg",
  pythonExecutable: "/app/.venv/bin/python",
  venvDir: "/app/.venv",
  harnessDir: "/tmp/python-exec-harness-0-0123456789abcdef",
  env: { PATH: "/sandbox/venv/bin:/usr/bin:/bin", HOME: "/sandbox/work", LANG: "C.UTF-8" },
  timeoutMs: 5000,
  outsideUid: 920_007,
};

describe("the jail's user", () => {
  it("maps nobody inside to the jail's own unprivileged uid and gid outside", () => {
    const argv = buildNsjailArgv(base);
    expect(value(argv, "--user")).toBe("65534:920007:1");
    expect(value(argv, "--group")).toBe("65534:920007:1");
  });

  it("refuses a missing or root outside uid", () => {
    expect(() => buildNsjailArgv({ ...base, outsideUid: 0 })).toThrow(/outsideUid/);
  });
});

function value(argv: readonly string[], flag: string): string | undefined {
  const all = values(argv, flag);
  expect(all.length).toBeLessThanOrEqual(1);
  return all[0];
}

describe("buildNsjailArgv", () => {
  it("logs to its own fd, loads the config first and ends with the jailed harness command", () => {
    const argv = buildNsjailArgv(base);
    expect(argv.slice(0, 4)).toEqual(["--log_fd", "4", "--config", "/app/nsjail.cfg"]);
    const command = argv.slice(argv.indexOf("--") + 1);
    expect(command).toEqual([`${JAIL_VENV_DIR}/bin/python3`, "-u", "-c", harnessBootstrap(JAIL_HARNESS_DIR, "serve")]);
  });

  it("mounts only the venv's lib, pyvenv.cfg and interpreter and the harness package, read-only at fixed paths, and passes the result fd", () => {
    const argv = buildNsjailArgv(base);
    expect(values(argv, "--bindmount_ro")).toEqual([
      "/app/.venv/lib:/sandbox/venv/lib",
      "/app/.venv/pyvenv.cfg:/sandbox/venv/pyvenv.cfg",
      "/app/.venv/bin/python:/sandbox/venv/bin/python",
      "/app/.venv/bin/python:/sandbox/venv/bin/python3",
      `/tmp/python-exec-harness-0-0123456789abcdef:${JAIL_HARNESS_DIR}`,
    ]);
    expect(values(argv, "--bindmount")).toEqual([]);
    expect(values(argv, "--pass_fd")).toEqual(["3"]);
  });

  it("passes exactly the given environment and nothing else", () => {
    const argv = buildNsjailArgv(base);
    expect(values(argv, "--env")).toEqual(["PATH=/sandbox/venv/bin:/usr/bin:/bin", "HOME=/sandbox/work", "LANG=C.UTF-8"]);
    expect(argv).not.toContain("--keep_env");
    expect(argv).not.toContain("-e");
  });

  it("derives the time limits from the timeout so the server's own timer fires first", () => {
    expect(value(buildNsjailArgv(base), "--time_limit")).toBe("6");
    expect(value(buildNsjailArgv({ ...base, timeoutMs: 1500 }), "--time_limit")).toBe("3");
    expect(value(buildNsjailArgv({ ...base, timeLimitSeconds: 0 }), "--time_limit")).toBe("0");
    // RLIMIT_CPU is per process and must not fire before the wall clock limit.
    expect(value(buildNsjailArgv(base), "--rlimit_cpu")).toBe("7");
    expect(value(buildNsjailArgv({ ...base, cpuCores: 2 }), "--rlimit_cpu")).toBe("12");
  });

  it("caps processes per uid with RLIMIT_NPROC as a backstop", () => {
    expect(value(buildNsjailArgv(base), "--rlimit_nproc")).toBe(String(MAX_PROCESSES));
    expect(value(buildNsjailArgv({ ...base, maxPids: 32 }), "--rlimit_nproc")).toBe("32");
  });

  it("gives the jail the open-file and file-size limits every backend shares", () => {
    expect(value(buildNsjailArgv(base), "--rlimit_nofile")).toBe(String(MAX_OPEN_FILES));
    expect(Number(value(buildNsjailArgv(base), "--rlimit_fsize")) * 1024 * 1024).toBe(MAX_FILE_BYTES);
  });

  it("never asks nsjail for cgroups of its own: the jail runs in the server's slot group", () => {
    expect(buildNsjailArgv(base).some((arg) => arg.startsWith("--cgroup") || arg === "--use_cgroupv2")).toBe(false);
  });

  it("limits the address space only where no cgroup limits memory", () => {
    expect(buildNsjailArgv(base)).not.toContain("--rlimit_as");
    expect(value(buildNsjailArgv({ ...base, addressSpaceLimitMb: 256 }), "--rlimit_as")).toBe("256");
  });

  it("maps the interpreter into the jail: venv path, /usr as is, runtime mounts as is", () => {
    const fromUsr = buildNsjailArgv({ ...base, pythonExecutable: "/usr/bin/python3" });
    expect(fromUsr[fromUsr.indexOf("--") + 1]).toBe("/usr/bin/python3");
    const trailing = buildNsjailArgv({ ...base, venvDir: "/app/.venv/" });
    expect(trailing[trailing.indexOf("--") + 1]).toBe("/sandbox/venv/bin/python3");
    expect(values(trailing, "--bindmount_ro")[0]).toBe("/app/.venv/lib:/sandbox/venv/lib");
    const opt = buildNsjailArgv({ ...base, pythonExecutable: "/opt/py/bin/python3", runtimeMounts: ["/opt/py"] });
    expect(opt[opt.indexOf("--") + 1]).toBe("/opt/py/bin/python3");
    expect(values(opt, "--bindmount_ro")).toContain("/opt/py:/opt/py");
    expect(() => buildNsjailArgv({ ...base, pythonExecutable: "/root/.pyenv/bin/python" })).toThrow(/cannot see it/);
    // A sibling directory that merely shares the prefix is not inside the venv.
    expect(() => buildNsjailArgv({ ...base, pythonExecutable: "/app/.venv2/bin/python" })).toThrow(/cannot see it/);
  });

  it("takes interpreter flags and harness arguments, and runs the harness package from its read-only mount", () => {
    const argv = buildNsjailArgv({ ...base, pythonFlags: ["-I", "-u", "-B", "-X", "utf8"], harnessArgs: ["--prewarm"] });
    expect(argv.slice(argv.indexOf("--") + 1)).toEqual([
      "/sandbox/venv/bin/python3",
      "-I",
      "-u",
      "-B",
      "-X",
      "utf8",
      "-c",
      harnessBootstrap(JAIL_HARNESS_DIR, "serve"),
      "--prewarm",
    ]);
  });

  it("passes other fds when asked, never the log fd", () => {
    const argv = buildNsjailArgv({ ...base, logFd: 5, passFds: [3, 4] });
    expect(value(argv, "--log_fd")).toBe("5");
    expect(values(argv, "--pass_fd")).toEqual(["3", "4"]);
    expect(() => buildNsjailArgv({ ...base, logFd: 3 })).toThrow(/log fd/);
    expect(() => buildNsjailArgv({ ...base, passFds: [2] })).toThrow(/>= 3/);
  });

  it("rejects what nsjail would misparse or what makes no sense", () => {
    expect(() => buildNsjailArgv({ ...base, venvDir: "/a:b/.venv", pythonExecutable: "/a:b/.venv/bin/python" })).toThrow(/':'/);
    expect(() => buildNsjailArgv({ ...base, venvDir: "relative/.venv" })).toThrow(/absolute/);
    expect(() => buildNsjailArgv({ ...base, harnessDir: "/tmp/a:b" })).toThrow(/harnessDir/);
    expect(() => buildNsjailArgv({ ...base, timeoutMs: 0 })).toThrow(/timeoutMs/);
    expect(() => buildNsjailArgv({ ...base, addressSpaceLimitMb: 1.5 })).toThrow(/addressSpaceLimitMb/);
    expect(() => buildNsjailArgv({ ...base, maxPids: 0 })).toThrow(/maxPids/);
    expect(() => buildNsjailArgv({ ...base, cpuCores: 0 })).toThrow(/cpuCores/);
    expect(() => buildNsjailArgv({ ...base, env: { "BAD=NAME": "x" } })).toThrow(/environment variable name/);
    expect(() => buildNsjailArgv({ ...base, env: { OK: "a\0b" } })).toThrow(/NUL/);
  });

  it("puts every option before the single -- separator", () => {
    const argv = buildNsjailArgv({ ...base, env: { ...base.env, WEIRD: "--" } });
    expect(argv.filter((arg) => arg === "--")).toHaveLength(1);
    expect(values(argv, "--env")).toContain("WEIRD=--");
  });
});
