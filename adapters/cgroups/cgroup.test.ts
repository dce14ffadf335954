import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { detectCgroups } from "./cgroup.js";

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
    expect(detection.mode).toEqual({ version: "v2", mount: join(dir, "NSJAIL"), swapLimit: false, cpu: true, io: true });
    // A plain directory stands in for the group: the write lands in a file.
    expect(readFileSync(join(dir, "NSJAIL", "cgroup.subtree_control"), "utf8")).toBe("+memory +pids +cpu +io");
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
});
