import { mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { cgroupSlots, joinSlotArgv } from "./cgroup-slots.js";

// Plain directories stand in for the cgroup filesystems: what the slot writes lands in files.
let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "slots-"));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const read = (...path: string[]) => readFileSync(join(root, ...path), "utf8");
const limits = { memoryMb: 256, maxPids: 65, cpuCores: 1, ioBytesPerSecond: 1_000_000 };

describe("cgroup v1 slots", () => {
  const mode = () =>
    ({
      version: "v1",
      memoryMount: join(root, "memory"),
      pidsMount: join(root, "pids"),
      cpuMount: join(root, "cpu"),
      blkioMount: join(root, "blkio"),
      parent: "NSJAIL",
      swapLimit: true,
    }) as const;

  function newSlot(uid = 920_001) {
    const slot = cgroupSlots(mode(), ["254:0"])!(uid);
    const memory = join(root, "memory", "NSJAIL", `uid-${uid}`);
    writeFileSync(join(memory, "memory.limit_in_bytes"), "9223372036854771712\n");
    writeFileSync(join(memory, "memory.oom_control"), "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n");
    writeFileSync(join(memory, "memory.failcnt"), "5\n");
    writeFileSync(join(root, "pids", "NSJAIL", `uid-${uid}`, "pids.events"), "max 2\n");
    return { slot, memory };
  }

  it("is one group per uid in every hierarchy, entered through each cgroup.procs", () => {
    const { slot } = newSlot();
    expect(slot.procsFiles).toEqual(["memory", "pids", "cpu", "blkio"].map((c) => join(root, c, "NSJAIL", "uid-920001", "cgroup.procs")));
  });

  it("writes the run's limits: memory with swap, pids, a CPU quota and the IO throttle", () => {
    const { slot } = newSlot();
    slot.prepare(limits);
    const dir = (controller: string) => join(controller, "NSJAIL", "uid-920001");
    expect(read(dir("memory"), "memory.limit_in_bytes")).toBe(String(256 * 1024 * 1024));
    expect(read(dir("memory"), "memory.memsw.limit_in_bytes")).toBe(String(256 * 1024 * 1024));
    expect(read(dir("pids"), "pids.max")).toBe("65");
    expect(read(dir("cpu"), "cpu.cfs_quota_us")).toBe("100000");
    expect(read(dir("blkio"), "blkio.throttle.read_bps_device")).toBe("254:0 1000000");
  });

  it("writes only limits that differ from the ones it wrote last (nothing else writes a slot's limits)", () => {
    const { slot, memory } = newSlot();
    slot.prepare(limits);
    writeFileSync(join(memory, "memory.limit_in_bytes"), "as the kernel left it");
    slot.prepare({ ...limits });
    expect(read("memory", "NSJAIL", "uid-920001", "memory.limit_in_bytes")).toBe("as the kernel left it");
    writeFileSync(join(memory, "memory.limit_in_bytes"), "0");
    slot.prepare({ ...limits, memoryMb: 128 });
    expect(read("memory", "NSJAIL", "uid-920001", "memory.limit_in_bytes")).toBe(String(128 * 1024 * 1024));
  });

  it("moves a process into every hierarchy, each time it is asked to", async () => {
    const { slot } = newSlot();
    await slot.attach(4242);
    await slot.attach(4343);
    slot.close();
    for (const file of slot.procsFiles) expect(readFileSync(file, "utf8")).toBe("4343");
  });

  it("counts only the OOM kills since the run's prepare()", () => {
    const { slot, memory } = newSlot();
    slot.prepare(limits);
    expect(slot.sincePrepare().oomKilled).toBe(false);
    writeFileSync(join(memory, "memory.oom_control"), "oom_kill_disable 0\nunder_oom 0\noom_kill 4\n");
    expect(slot.sincePrepare().oomKilled).toBe(true);
    slot.prepare(limits);
    expect(slot.sincePrepare().oomKilled).toBe(false);
  });

  it("limit() writes the limits as prepare() does and leaves the counters noted at the last prepare()", () => {
    const { slot, memory } = newSlot();
    slot.prepare(limits);
    writeFileSync(join(memory, "memory.oom_control"), "oom_kill_disable 0\nunder_oom 0\noom_kill 4\n");
    slot.limit({ ...limits, memoryMb: 128 });
    expect(read("memory", "NSJAIL", "uid-920001", "memory.limit_in_bytes")).toBe(String(128 * 1024 * 1024));
    expect(slot.sincePrepare().oomKilled).toBe(true);
  });

  it("is empty only when the pids controller counts no task: an exited one not yet reaped is no longer in cgroup.procs, but is counted", () => {
    const { slot } = newSlot();
    const pids = join(root, "pids", "NSJAIL", "uid-920001");
    writeFileSync(join(pids, "cgroup.procs"), "");
    writeFileSync(join(pids, "pids.current"), "1\n");
    expect(slot.isEmpty()).toBe(false);
    writeFileSync(join(pids, "pids.current"), "0\n");
    expect(slot.isEmpty()).toBe(true);
    rmSync(join(pids, "pids.current"));
    expect(slot.isEmpty()).toBe(false);
  });

  it("tells which limits were run into since prepare(): the memory failcnt and refused forks", () => {
    const { slot, memory } = newSlot();
    slot.prepare(limits);
    expect(slot.sincePrepare().limitsHit).toEqual({ memory: false, processes: false });
    writeFileSync(join(memory, "memory.failcnt"), "6\n");
    writeFileSync(join(root, "pids", "NSJAIL", "uid-920001", "pids.events"), "max 3\n");
    expect(slot.sincePrepare().limitsHit).toEqual({ memory: true, processes: true });
  });
});

describe("cgroup v2 slots", () => {
  it("writes memory.max, swap off, pids, cpu and io, and reads oom_kill from memory.events", () => {
    mkdirSync(join(root, "NSJAIL"));
    const slot = cgroupSlots({ version: "v2", mount: join(root, "NSJAIL"), swapLimit: true, cpu: true, io: true }, ["8:0"])!(920_002);
    const dir = join(root, "NSJAIL", "uid-920002");
    writeFileSync(join(dir, "memory.events"), "low 0\nhigh 0\nmax 7\noom 1\noom_kill 1\n");
    writeFileSync(join(dir, "pids.events"), "max 0\n");
    slot.prepare(limits);
    expect(slot.procsFiles).toEqual([join(dir, "cgroup.procs")]);
    expect(read("NSJAIL", "uid-920002", "memory.max")).toBe(String(256 * 1024 * 1024));
    expect(read("NSJAIL", "uid-920002", "memory.swap.max")).toBe("0");
    expect(read("NSJAIL", "uid-920002", "pids.max")).toBe("65");
    expect(read("NSJAIL", "uid-920002", "cpu.max")).toBe("100000 100000");
    expect(read("NSJAIL", "uid-920002", "io.max")).toBe("8:0 rbps=1000000 wbps=1000000");
    expect(slot.sincePrepare().oomKilled).toBe(false);
    writeFileSync(join(dir, "memory.events"), "low 0\nhigh 0\nmax 9\noom 2\noom_kill 2\n");
    expect(slot.sincePrepare().oomKilled).toBe(true);
    expect(slot.sincePrepare().limitsHit).toEqual({ memory: true, processes: false });
  });

  it("closes its cgroup.procs file only once a move under way has returned", async () => {
    mkdirSync(join(root, "NSJAIL"));
    const slot = cgroupSlots({ version: "v2", mount: join(root, "NSJAIL"), swapLimit: true, cpu: true, io: true })!(920_003);
    const procs = slot.procsFiles[0]!;
    const moving = slot.attach(4242);
    const opened = realpathSync(procs); // as /proc/self/fd names it
    const openOnProcs = () => readdirSync("/proc/self/fd").filter((fd) => readlinkOr(`/proc/self/fd/${fd}`) === opened).length;
    slot.close(); // before the write has been done by libuv's threads
    expect(openOnProcs()).toBe(1);
    await moving;
    await new Promise((resolve) => setImmediate(resolve));
    expect(openOnProcs()).toBe(0);
    expect(readFileSync(procs, "utf8")).toBe("4242");
  });

  it("has no slots without cgroups", () => {
    expect(cgroupSlots({ version: "none" })).toBeUndefined();
  });
});

const readlinkOr = (path: string): string | undefined => {
  try {
    return readlinkSync(path);
  } catch {
    return undefined; // closed meanwhile
  }
};

describe("joinSlotArgv", () => {
  it("puts a shell in front that joins every hierarchy and then execs the command", () => {
    const { command, args } = joinSlotArgv(["/a/cgroup.procs", "/b/cgroup.procs"], "/bin/nsjail", ["--config", "x"]);
    expect(command).toBe("/bin/sh");
    expect(args.slice(2)).toEqual(["join-slot", "/a/cgroup.procs", "/b/cgroup.procs", "--", "/bin/nsjail", "--config", "x"]);
  });
});
