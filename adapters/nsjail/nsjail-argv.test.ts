import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { detectCgroups, parseMountinfo, removeStaleJailCgroups } from "./cgroup.js";
import { buildNsjailArgv, JAIL_VENV_DIR, type NsjailArgvOptions } from "./nsjail-argv.js";

const v1 = {
  version: "v1",
  memoryMount: "/sys/fs/cgroup/memory",
  pidsMount: "/sys/fs/cgroup/pids",
  parent: "NSJAIL",
  swapLimit: true,
} as const;

const base: NsjailArgvOptions = {
  configPath: "/app/nsjail.cfg",
  pythonExecutable: "/app/.venv/bin/python",
  venvDir: "/app/.venv",
  harnessSource: "print('harness')\n",
  env: { PATH: "/sandbox/venv/bin:/usr/bin:/bin", HOME: "/sandbox/work", LANG: "C.UTF-8" },
  timeoutMs: 5000,
  memoryMb: 256,
  cgroup: v1,
  outsideUid: 920_007,
};

/** The value following each occurrence of a flag. */
function values(argv: readonly string[], flag: string): string[] {
  const command = argv.indexOf("--");
  const out: string[] = [];
  argv.forEach((arg, i) => {
    if (arg === flag && i < command) out.push(argv[i + 1] ?? "");
  });
  return out;
}

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
    expect(command).toEqual([`${JAIL_VENV_DIR}/bin/python`, "-u", "-c", "print('harness')\n"]);
  });

  it("mounts only the venv, read-only at a fixed path, and passes the result fd", () => {
    const argv = buildNsjailArgv(base);
    expect(values(argv, "--bindmount_ro")).toEqual(["/app/.venv:/sandbox/venv"]);
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

  it("sets cgroup v1 memory (swap off), pids and parent options", () => {
    const argv = buildNsjailArgv({ ...base, maxPids: 32 });
    expect(value(argv, "--cgroup_mem_max")).toBe(String(256 * 1024 * 1024));
    expect(value(argv, "--cgroup_mem_swap_max")).toBe("0");
    expect(value(argv, "--cgroup_mem_mount")).toBe("/sys/fs/cgroup/memory");
    expect(value(argv, "--cgroup_mem_parent")).toBe("NSJAIL");
    expect(value(argv, "--cgroup_pids_mount")).toBe("/sys/fs/cgroup/pids");
    expect(value(argv, "--cgroup_pids_parent")).toBe("NSJAIL");
    expect(value(argv, "--cgroup_pids_max")).toBe("32");
    expect(value(argv, "--rlimit_nproc")).toBe("32");
    expect(argv).not.toContain("--use_cgroupv2");
    expect(argv).not.toContain("--cgroup_cpu_ms_per_sec");
    expect(argv).not.toContain("--rlimit_as");
  });

  it("adds a v1 CPU quota only when a cpu mount is given", () => {
    const argv = buildNsjailArgv({ ...base, cgroup: { ...v1, cpuMount: "/sys/fs/cgroup/cpu" } });
    expect(value(argv, "--cgroup_cpu_mount")).toBe("/sys/fs/cgroup/cpu");
    expect(value(argv, "--cgroup_cpu_parent")).toBe("NSJAIL");
    expect(value(argv, "--cgroup_cpu_ms_per_sec")).toBe("1000");
  });

  it("leaves swap alone when the host cannot limit it", () => {
    const argv = buildNsjailArgv({ ...base, cgroup: { ...v1, swapLimit: false } });
    expect(argv).not.toContain("--cgroup_mem_swap_max");
    expect(argv).not.toContain("--cgroup_mem_memsw_max");
  });

  it("uses cgroup v2 through the prepared group", () => {
    const argv = buildNsjailArgv({
      ...base,
      cpuCores: 1.5,
      cgroup: { version: "v2", mount: "/sys/fs/cgroup/NSJAIL", swapLimit: true, cpu: true },
    });
    expect(argv).toContain("--use_cgroupv2");
    expect(argv).not.toContain("--detect_cgroupv2");
    expect(value(argv, "--cgroupv2_mount")).toBe("/sys/fs/cgroup/NSJAIL");
    expect(value(argv, "--cgroup_mem_max")).toBe(String(256 * 1024 * 1024));
    expect(value(argv, "--cgroup_mem_swap_max")).toBe("0");
    expect(value(argv, "--cgroup_pids_max")).toBe("64");
    expect(value(argv, "--cgroup_cpu_ms_per_sec")).toBe("1500");
    expect(argv).not.toContain("--cgroup_mem_mount");
    expect(argv).not.toContain("--cgroup_pids_mount");
  });

  it("falls back to RLIMIT_AS without cgroups", () => {
    const argv = buildNsjailArgv({ ...base, cgroup: { version: "none" } });
    expect(value(argv, "--rlimit_as")).toBe("256");
    expect(argv.some((arg) => arg.startsWith("--cgroup"))).toBe(false);
  });

  it("maps the interpreter into the jail: venv path, /usr as is, runtime mounts as is", () => {
    const fromUsr = buildNsjailArgv({ ...base, pythonExecutable: "/usr/bin/python3" });
    expect(fromUsr[fromUsr.indexOf("--") + 1]).toBe("/usr/bin/python3");
    const trailing = buildNsjailArgv({ ...base, venvDir: "/app/.venv/" });
    expect(trailing[trailing.indexOf("--") + 1]).toBe("/sandbox/venv/bin/python");
    expect(values(trailing, "--bindmount_ro")[0]).toBe("/app/.venv:/sandbox/venv");
    const opt = buildNsjailArgv({ ...base, pythonExecutable: "/opt/py/bin/python3", runtimeMounts: ["/opt/py"] });
    expect(opt[opt.indexOf("--") + 1]).toBe("/opt/py/bin/python3");
    expect(values(opt, "--bindmount_ro")).toContain("/opt/py:/opt/py");
    expect(() => buildNsjailArgv({ ...base, pythonExecutable: "/root/.pyenv/bin/python" })).toThrow(/cannot see it/);
    // A sibling directory that merely shares the prefix is not inside the venv.
    expect(() => buildNsjailArgv({ ...base, pythonExecutable: "/app/.venv2/bin/python" })).toThrow(/cannot see it/);
  });

  it("takes interpreter flags, the harness source and harness arguments", () => {
    const argv = buildNsjailArgv({
      ...base,
      pythonFlags: ["-I", "-u", "-B", "-X", "utf8"],
      harnessSource: "import sys\n",
      harnessArgs: ["--prewarm"],
    });
    expect(argv.slice(argv.indexOf("--") + 1)).toEqual([
      "/sandbox/venv/bin/python", "-I", "-u", "-B", "-X", "utf8", "-c", "import sys\n", "--prewarm",
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
    expect(() => buildNsjailArgv({ ...base, harnessSource: " " })).toThrow(/harnessSource/);
    expect(() => buildNsjailArgv({ ...base, timeoutMs: 0 })).toThrow(/timeoutMs/);
    expect(() => buildNsjailArgv({ ...base, memoryMb: 1.5 })).toThrow(/memoryMb/);
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

describe("cgroup detection", () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  const hybridMountinfo = (root: string) =>
    [
      `30 25 0:26 / ${root}/memory rw,nosuid,nodev,noexec,relatime shared:9 - cgroup cgroup rw,memory`,
      `31 25 0:27 / ${root}/pids rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,pids`,
      `32 25 0:28 / ${root}/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct`,
      `33 25 0:29 / ${root}/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd`,
      `34 25 0:30 / ${root}/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate`,
      `35 22 0:31 / /tmp\\040dir rw - tmpfs tmpfs rw`,
    ].join("\n");

  it("parses v1 controllers and cgroup2 mounts from mountinfo", () => {
    const mounts = parseMountinfo(hybridMountinfo("/sys/fs/cgroup"));
    expect(mounts).toEqual([
      { mountPoint: "/sys/fs/cgroup/memory", version: 1, controllers: ["memory"] },
      { mountPoint: "/sys/fs/cgroup/pids", version: 1, controllers: ["pids"] },
      { mountPoint: "/sys/fs/cgroup/cpu,cpuacct", version: 1, controllers: ["cpu", "cpuacct"] },
      { mountPoint: "/sys/fs/cgroup/systemd", version: 1, controllers: ["xattr"] },
      { mountPoint: "/sys/fs/cgroup/unified", version: 2, controllers: [] },
    ]);
    expect(parseMountinfo("36 1 0:32 / /sys/fs/cgroup\\040x rw - cgroup2 cgroup2 rw")[0]?.mountPoint).toBe("/sys/fs/cgroup x");
  });

  it("prefers v1 memory+pids on a hybrid host and creates the parent groups", () => {
    dir = mkdtempSync(join(tmpdir(), "cg-"));
    for (const c of ["memory", "pids", "cpu,cpuacct", "unified"]) mkdirSync(join(dir, c));
    writeFileSync(join(dir, "memory", "memory.memsw.limit_in_bytes"), "9223372036854771712\n");
    writeFileSync(join(dir, "unified", "cgroup.controllers"), "hugetlb\n");
    writeFileSync(join(dir, "mountinfo"), hybridMountinfo(dir));
    const detection = detectCgroups({ mountinfoPath: join(dir, "mountinfo") });
    expect(detection.problems).toEqual([]);
    expect(detection.mode).toEqual({
      version: "v1",
      memoryMount: join(dir, "memory"),
      pidsMount: join(dir, "pids"),
      cpuMount: join(dir, "cpu,cpuacct"),
      parent: "NSJAIL",
      swapLimit: true,
    });
    expect(existsSync(join(dir, "memory", "NSJAIL"))).toBe(true);
    expect(existsSync(join(dir, "pids", "NSJAIL"))).toBe(true);
  });

  it("only inspects when asked not to prepare", () => {
    dir = mkdtempSync(join(tmpdir(), "cg-"));
    for (const c of ["memory", "pids"]) mkdirSync(join(dir, c));
    writeFileSync(join(dir, "mountinfo"), hybridMountinfo(dir));
    const detection = detectCgroups({ mountinfoPath: join(dir, "mountinfo"), prepare: false });
    expect(detection.mode).toEqual({ version: "none" });
    expect(detection.problems.join("\n")).toMatch(/NSJAIL does not exist/);
    expect(existsSync(join(dir, "memory", "NSJAIL"))).toBe(false);
  });

  it("uses v2 when it offers memory and pids, enabling them down to the jail group", () => {
    dir = mkdtempSync(join(tmpdir(), "cg-"));
    writeFileSync(join(dir, "cgroup.controllers"), "cpuset cpu io memory hugetlb pids rdma misc\n");
    writeFileSync(join(dir, "cgroup.subtree_control"), "cpu memory pids\n");
    writeFileSync(join(dir, "mountinfo"), `29 24 0:26 / ${dir} rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n`);
    const detection = detectCgroups({ mountinfoPath: join(dir, "mountinfo") });
    expect(detection.problems).toEqual([]);
    expect(detection.mode).toEqual({ version: "v2", mount: join(dir, "NSJAIL"), swapLimit: false, cpu: true });
    // A plain directory stands in for the group: the write lands in a file.
    expect(readFileSync(join(dir, "NSJAIL", "cgroup.subtree_control"), "utf8")).toBe("+memory +pids +cpu");
  });

  it("reports none when no hierarchy has both controllers", () => {
    dir = mkdtempSync(join(tmpdir(), "cg-"));
    writeFileSync(join(dir, "cgroup.controllers"), "cpu io\n");
    writeFileSync(join(dir, "mountinfo"), `29 24 0:26 / ${dir} rw - cgroup2 cgroup2 rw\n`);
    const detection = detectCgroups({ mountinfoPath: join(dir, "mountinfo") });
    expect(detection.mode).toEqual({ version: "none" });
    expect(detection.problems.join("\n")).toMatch(/memory and the pids/);
    expect(detectCgroups({ mountinfoPath: join(dir, "missing") }).problems.join("\n")).toMatch(/mount table/);
  });

  it("removes only the jail groups whose process is gone", () => {
    dir = mkdtempSync(join(tmpdir(), "cg-"));
    const proc = join(dir, "proc");
    mkdirSync(join(proc, "200"), { recursive: true });
    for (const c of ["memory", "pids"]) {
      for (const g of ["NSJAIL.100", "NSJAIL.200", "NSJAIL_SELF.101", "other"]) mkdirSync(join(dir, c, "NSJAIL", g), { recursive: true });
    }
    const removed = removeStaleJailCgroups({ ...v1, memoryMount: join(dir, "memory"), pidsMount: join(dir, "pids") }, proc);
    expect(removed.sort()).toEqual(
      [
        join(dir, "memory", "NSJAIL", "NSJAIL.100"),
        join(dir, "memory", "NSJAIL", "NSJAIL_SELF.101"),
        join(dir, "pids", "NSJAIL", "NSJAIL.100"),
        join(dir, "pids", "NSJAIL", "NSJAIL_SELF.101"),
      ].sort(),
    );
    expect(existsSync(join(dir, "memory", "NSJAIL", "NSJAIL.200"))).toBe(true);
    expect(existsSync(join(dir, "memory", "NSJAIL", "other"))).toBe(true);
  });
});
