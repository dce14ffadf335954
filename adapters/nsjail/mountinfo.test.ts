import { describe, expect, it } from "vitest";
import { parseMountinfo } from "./mountinfo.js";

describe("parseMountinfo", () => {
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
});
