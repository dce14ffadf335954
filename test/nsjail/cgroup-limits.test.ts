/**
 * The jail's memory and process limits are enforced by cgroups (not rlimits), whatever the
 * cgroup version and in both modes of the nsjail backend, and runs leave no cgroup behind. Run on the host by `npm test` and on a pure
 * cgroup v2 kernel by `npm run test:cgroup2`; the checks that need swap, or a machine where
 * nothing else creates cgroups meanwhile, run where those hold (the VM sets both up).
 */

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { detectCgroups } from "../../adapters/cgroups/cgroup.js";
import { slotName } from "../../adapters/cgroups/cgroup-slots.js";
import { parseMountinfo } from "../../adapters/cgroups/mountinfo.js";
import { SANDBOX_UID_COUNT } from "../../adapters/run/sandbox-uids.js";
import { MIB } from "../../domain/units.js";
import { evictFromPageCache, memoryCgroupCount } from "../support/memory-accounting.js";
import { eachMode, nsjailModes } from "../support/nsjail.js";
import { survivorsMatching } from "../support/processes.js";
import { appOver, slowed, testConfig } from "../support/real-app.js";
import { type App, execute, py, uniqueMarker } from "../support/requests.js";

const modes = await nsjailModes({ POOL_SIZE: "0" });

const mounts = parseMountinfo(readFileSync("/proc/self/mountinfo", "utf8"));
/** Only the unified hierarchy: no cgroup v1 controller is mounted. */
const v2Only = !mounts.some((m) => m.version === 1) && mounts.some((m) => m.version === 2 && m.mountPoint === "/sys/fs/cgroup");
const meminfo = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync("/proc/meminfo", "utf8"))?.[1] ?? 0) * 1024;
/** Set where nothing but these tests creates or removes cgroups while they run (the test VM). */
const exclusiveCgroups = process.env.TEST_CGROUPS_EXCLUSIVE === "1";

/** Where a slot's OOM-kill counter is: v2 memory.events, v1 memory.oom_control. */
const oomKillFile = () => (detectCgroups({ prepare: false }).mode.version === "v2" ? "memory.events" : "memory.oom_control");

/**
 * The sum of one counter (memory.events oom_kill, pids.events max, ...) over the slot groups of
 * this server's sandbox uids. Uids are leased host-wide, so a run of this file is in one of them.
 */
function slotCounter(controller: "memory" | "pids", file: string, key: string): number {
  const mode = detectCgroups({ prepare: false }).mode;
  const parent =
    mode.version === "v2" ? mode.mount : mode.version === "v1" ? join(controller === "memory" ? mode.memoryMount : mode.pidsMount, mode.parent) : undefined;
  if (parent === undefined) throw new Error("no cgroup slots on this host");
  const base = testConfig().sandboxUidBase;
  let sum = 0;
  for (let uid = base; uid < base + SANDBOX_UID_COUNT; uid++) {
    let text: string;
    try {
      text = readFileSync(join(parent, slotName(uid), file), "utf8");
    } catch {
      continue; // never used
    }
    const line = text.split("\n").find((l) => l.startsWith(`${key} `));
    sum += Number(line?.slice(key.length + 1) ?? 0);
  }
  return sum;
}

/** Every cgroup directory of the v2 hierarchy, relative to its mount. */
function cgroupTree(root = "/sys/fs/cgroup", relative = ""): string[] {
  const groups: string[] = [];
  for (const entry of readdirSync(join(root, relative), { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const group = join(relative, entry.name);
    groups.push(group, ...cgroupTree(root, group));
  }
  return groups;
}

function rootCgroupStat(): Record<string, number> {
  return Object.fromEntries(
    readFileSync("/sys/fs/cgroup/cgroup.stat", "utf8")
      .trim()
      .split("\n")
      .map((l) => {
        const [key, value] = l.split(" ");
        return [key, Number(value)];
      }),
  );
}

eachMode(modes)("nsjail ($mode) cgroup limits", ({ sandbox }) => {
  let app: App;

  beforeAll(async () => {
    app = await appOver(sandbox, testConfig({ EXECUTION_TIMEOUT_MS: slowed(20_000) }));
  });

  afterAll(async () => {
    await sandbox.close();
  });

  it("allows a 1 GiB mapping that is never touched: the limit is on memory used, not on address space", async () => {
    const res = await execute(
      app,
      py`
        import mmap

        def main():
            m = mmap.mmap(-1, 1 << 30)
            m[0] = 1
            m.close()
            return "mapped"
      `,
      { memoryMb: 128 },
    );
    expect(res.status, res.text).toBe(200);
    expect(res.body.result).toBe("mapped");
  });

  it("kills a run that touches more memory than its limit: MEMORY_LIMIT_EXCEEDED, by the cgroup's OOM killer", async () => {
    const oomKills = slotCounter("memory", oomKillFile(), "oom_kill");
    const res = await execute(
      app,
      py`
        def main():
            b = bytearray(400 * 1024 * 1024)
            b[::4096] = b"x" * len(b[::4096])
            return len(b)
      `,
      { memoryMb: 128 },
    );
    expect(res.status, res.text).toBe(400);
    expect(res.body.code).toBe("MEMORY_LIMIT_EXCEEDED");
    expect(slotCounter("memory", oomKillFile(), "oom_kill")).toBeGreaterThan(oomKills);
  });

  it("stops a fork bomb with the cgroup's pids limit", async () => {
    const marker = `9${uniqueMarker().slice(-8)}.5`;
    const refusals = slotCounter("pids", "pids.events", "max");
    const res = await execute(
      app,
      py`
      import os

      def main():
          while True:
              if os.fork() == 0:
                  os.execv("/bin/sleep", ["sleep", "${marker}"])
    `,
    );
    expect(res.status, res.text).toBe(400);
    expect(res.body.code).toBe("RESOURCE_LIMIT_EXCEEDED");
    expect(slotCounter("pids", "pids.events", "max")).toBeGreaterThan(refusals);
    expect(await survivorsMatching(marker)).toEqual([]);
  });

  // Without swap there is nothing to prove: where there is some, a jail that may use it
  // would have pages swapped out and finish.
  it.runIf(meminfo("SwapFree") > 512 * MIB)("does not let swap extend the limit", async () => {
    const res = await execute(
      app,
      py`
        def main():
            chunks = []
            for _ in range(192):
                chunk = bytearray(1024 * 1024)
                chunk[::4096] = b"x" * len(chunk[::4096])
                chunks.append(chunk)
            return len(chunks)
      `,
      { memoryMb: 128 },
    );
    expect(res.status, res.text).toBe(400);
    expect(res.body.code).toBe("MEMORY_LIMIT_EXCEEDED");
  });

  // Each run reads files just dropped from the page cache, so their pages are charged to
  // whatever cgroup it runs in: a cgroup made for one run would outlive it as a dying group.
  // Exact, unlike the host-wide check of shared-resources.test.ts: nothing else makes cgroups here.
  it.runIf(v2Only && exclusiveCgroups)("leaves no cgroup behind, live or dying, over many runs", async () => {
    const stdlib = "/usr/lib/python3.11";
    const files = readdirSync(stdlib, { withFileTypes: true })
      .filter((entry) => entry.isFile() && entry.name.endsWith(".py"))
      .map((entry) => join(stdlib, entry.name))
      .slice(0, 100);
    const reading = (paths: string[]) => {
      for (const path of paths) evictFromPageCache(path);
      return py`
        def main():
            total = 0
            for path in ${JSON.stringify(paths)}:
                with open(path, "rb") as f:
                    total += len(f.read())
            return total
      `;
    };
    const warmUp = await execute(app, reading([]));
    expect(warmUp.status, warmUp.text).toBe(200);
    const groups = cgroupTree();
    const count = memoryCgroupCount();
    const dying = rootCgroupStat().nr_dying_descendants;
    for (let run = 0; run < 10; run++) {
      const res = await execute(app, reading(files.slice(run * 10, run * 10 + 10)));
      expect(res.status, res.text).toBe(200);
      expect(cgroupTree(), `after run ${run}`).toEqual(groups);
    }
    expect(memoryCgroupCount()).toBe(count);
    expect(rootCgroupStat().nr_dying_descendants).toBe(dying);
  });
});
