import { describe, expect, it } from "vitest";
import { parseMountinfo } from "./mountinfo.js";

describe("parseMountinfo", () => {
  it("parses v1 controllers (not the mount's flags or named hierarchies) and cgroup2 mounts, and no other filesystem", () => {
    const text = [
      "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw",
      "30 25 0:26 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:9 - cgroup cgroup rw,memory",
      "32 25 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup ro,cpu,cpuacct",
      "33 25 0:29 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd",
      "34 25 0:30 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate",
      "35 22 0:31 / /tmp rw - tmpfs tmpfs rw",
    ].join("\n");
    expect(parseMountinfo(text)).toEqual([
      { mountPoint: "/sys/fs/cgroup/memory", version: 1, controllers: ["memory"] },
      { mountPoint: "/sys/fs/cgroup/cpu,cpuacct", version: 1, controllers: ["cpu", "cpuacct"] },
      { mountPoint: "/sys/fs/cgroup/systemd", version: 1, controllers: ["xattr"] },
      { mountPoint: "/sys/fs/cgroup/unified", version: 2, controllers: [] },
    ]);
  });

  it("unescapes octal escapes in the mount point (a space is \\040)", () => {
    expect(parseMountinfo("36 1 0:32 / /sys/fs/cgroup\\040x rw - cgroup2 cgroup2 rw")[0]?.mountPoint).toBe("/sys/fs/cgroup x");
  });

  it("skips lines without the separator or with too few fields", () => {
    expect(parseMountinfo("36 1 0:32 / /sys/fs/cgroup rw cgroup2\n\n37 1 0:33 / /x rw - cgroup2")).toEqual([]);
  });
});
