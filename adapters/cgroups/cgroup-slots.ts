/**
 * The cgroups jails run in. The server owns one slot group per sandbox host uid,
 * `<parent>/uid-<uid>`, and reuses it for every run under that uid; it never creates or
 * removes a group per run. A memory cgroup that is removed while page-cache pages are still
 * charged to it stays "dying" in the kernel, and memory-cgroup ids end at 65535: groups made
 * per run (nsjail's own NSJAIL.<pid>) run the host out of them after some hours of traffic.
 * Uids are leased host-wide and handed out most-recently-freed first, so the number of slots
 * stays at the peak number of jails alive at once.
 *
 * Per run the slot's limits are written and its OOM-kill counter is noted, the jail is started
 * inside the slot (see joinSlotArgv) or its process moved in (attach), and afterwards the counter
 * tells exactly whether the kernel's OOM killer ended something in the run.
 */

import { closeSync, existsSync, mkdirSync, openSync, readFileSync, write, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MIB } from "../../domain/units.js";
import type { NsjailCgroupMode } from "../nsjail/nsjail-argv.js";

export interface SlotLimits {
  readonly memoryMb: number;
  /** Processes and threads, the jail's supervisor included. */
  readonly maxPids: number;
  /** Cores the slot may keep busy at once (a CFS quota; ignored without a cpu controller). */
  readonly cpuCores: number;
  /** Bytes per second the slot may read from or write to each throttled block device. */
  readonly ioBytesPerSecond?: number;
}

export interface LimitsHit {
  readonly memory: boolean;
  readonly processes: boolean;
}

/** The slot's memory event counters: OOM kills, and charges that hit the memory limit. */
interface MemoryCounters {
  readonly oomKills: number;
  readonly memoryMax: number;
}

/** What a run ran into in its slot (CgroupSlot.sincePrepare). */
export interface SlotEvents {
  readonly oomKilled: boolean;
  readonly limitsHit: LimitsHit;
}

/** The slot's event counters: the memory ones, and forks refused by pids.max. */
interface Counters extends MemoryCounters {
  readonly pidsMax: number;
}

export interface CgroupSlot {
  /** The cgroup.procs files a process writes its pid into to enter the slot (one per hierarchy). */
  readonly procsFiles: readonly string[];
  /**
   * Sets the next run's limits and notes the OOM-kill counter; anything left of an earlier run
   * is for killAll() to end first (a run's process forked ahead may already wait in the slot).
   * Only the server writes a slot's limits: limits equal to the ones this object wrote last are
   * not written again.
   */
  prepare(limits: SlotLimits): void;
  /** Sets the slot's limits as prepare() does, without noting the counters (a run forked ahead notes them at its hand-over). */
  limit(limits: SlotLimits): void;
  /** Moves a process (host pid) into the slot; the cgroup.procs files stay open for the next move. */
  attach(pid: number): Promise<void>;
  /** Closes the files attach() keeps open, once the moves under way have returned. */
  close(): void;
  /**
   * What the slot's counters saw since prepare(), read once: whether the kernel's OOM killer
   * ended a process of it, and which of its limits something ran into (a refused fork, a charge
   * over the limit).
   */
  sincePrepare(): SlotEvents;
  /** Kills every process in the slot and waits until it is empty; throws if it is not within 30 s. */
  killAll(): Promise<void>;
  /** Kills every process in the slot, again and again, until it is empty or `withinMs` have passed: whether it is empty (never throws). */
  emptied(withinMs: number): Promise<boolean>;
  /** Kills every process in the slot now (v2: cgroup.kill; v1: each pid it lists). */
  killEverything(): void;
  /** Nothing is left in the slot: no process, and no exited one the pids controller still counts. */
  isEmpty(): boolean;
}

const CFS_PERIOD_US = 100_000;
const EMPTY_POLL_MS = 10;
/** How long a slot may take to empty once killed: reaping a fork bomb's processes takes seconds on an emulated or crowded CPU. */
export const SLOT_EMPTY_WAIT_MS = 30_000;

export const slotName = (uid: number): string => `uid-${uid}`;

/** A slot's IO limit from SANDBOX_IO_MB_PER_SEC: none at 0. */
export const ioLimitOf = (mbPerSec: number): Pick<SlotLimits, "ioBytesPerSecond"> => (mbPerSec > 0 ? { ioBytesPerSecond: mbPerSec * MIB } : {});

/** The slots of one cgroup setup; none when the host has no usable cgroups. */
export function cgroupSlots(mode: NsjailCgroupMode, devices: readonly string[] = []): ((uid: number) => CgroupSlot) | undefined {
  switch (mode.version) {
    case "v1":
      return (uid) => new V1Slot(mode, slotName(uid), devices);
    case "v2":
      return (uid) => new V2Slot(mode, slotName(uid), devices);
    case "none":
      return undefined;
  }
}

abstract class Slot implements CgroupSlot {
  private before: Counters = { oomKills: 0, memoryMax: 0, pidsMax: 0 };
  private written: SlotLimits | undefined;
  private procsFds: number[] | undefined;
  /** attach() calls whose writes have not returned: a caller may give up waiting for one the kernel stalls. */
  private readonly moves = new Set<Promise<unknown>>();
  abstract readonly procsFiles: readonly string[];
  /** The slot's group in the hierarchy of the pids controller. */
  protected abstract readonly pidsGroup: string;

  protected abstract memoryCounters(): MemoryCounters;
  protected abstract writeLimits(limits: SlotLimits): void;

  private counters(): Counters {
    return { ...this.memoryCounters(), pidsMax: counter(join(this.pidsGroup, "pids.events"), "max") };
  }

  /** The pids in the slot now (every process is in every hierarchy, so one file tells). */
  protected pids(): number[] {
    return readPids(join(this.pidsGroup, "cgroup.procs"));
  }

  /** Tasks the pids controller still counts: exited ones not yet reaped included, unlike cgroup.procs. */
  private taskCount(): number {
    return readCount(join(this.pidsGroup, "pids.current"));
  }

  killEverything(): void {
    for (const pid of this.pids()) killQuietly(pid);
  }

  prepare(limits: SlotLimits): void {
    this.limit(limits);
    this.before = this.counters();
  }

  limit(limits: SlotLimits): void {
    if (!sameLimits(this.written, limits)) {
      this.written = undefined;
      this.writeLimits(limits);
      this.written = limits;
    }
  }

  async attach(pid: number): Promise<void> {
    // Not synchronous: a cgroup v1 move can wait for an RCU grace period (about a millisecond
    // on a loaded host, measured), which the event loop need not wait for.
    this.procsFds ??= this.procsFiles.map((file) => openSync(file, "w"));
    const text = String(pid);
    const writes = this.procsFds.map((fd) => new Promise<void>((resolve, reject) => write(fd, text, 0, (error) => (error ? reject(error) : resolve()))));
    // Settled only once every write has returned: one failing must not let close() go ahead of the others.
    const move = Promise.allSettled(writes);
    this.moves.add(move);
    const results = await move;
    this.moves.delete(move);
    const failed = results.find((result): result is PromiseRejectedResult => result.status === "rejected");
    if (failed !== undefined) throw failed.reason;
  }

  // A write still queued for libuv's threads holds only the descriptor's number: closed now, the
  // number could be reused by the next file opened, and the pid written into that one.
  close(): void {
    const fds = this.procsFds ?? [];
    this.procsFds = undefined;
    const closeAll = () => {
      for (const fd of fds) {
        try {
          closeSync(fd);
        } catch {
          // Already closed: nothing of it is left to close.
        }
      }
    };
    if (this.moves.size === 0) closeAll();
    else void Promise.allSettled(this.moves).then(closeAll);
  }

  sincePrepare(): SlotEvents {
    const now = this.counters();
    const oomKilled = now.oomKills > this.before.oomKills;
    return { oomKilled, limitsHit: { memory: now.memoryMax > this.before.memoryMax || oomKilled, processes: now.pidsMax > this.before.pidsMax } };
  }

  // pids.current alone: it counts every task that cgroup.procs lists (and those of groups below),
  // and exited ones until they are reaped; reading cgroup.procs too cost a second file per look.
  isEmpty(): boolean {
    return this.taskCount() === 0;
  }

  async killAll(): Promise<void> {
    if (!(await this.emptied(SLOT_EMPTY_WAIT_MS))) throw new Error(`cgroup slot ${this.procsFiles[0]} still holds processes after SIGKILL`);
  }

  async emptied(withinMs: number): Promise<boolean> {
    const deadline = performance.now() + withinMs;
    for (;;) {
      if (this.isEmpty()) return true;
      if (performance.now() >= deadline) return false;
      try {
        this.killEverything();
      } catch {
        // A slot that cannot be written is one that does not empty: the caller says so.
      }
      await new Promise((resolve) => setTimeout(resolve, EMPTY_POLL_MS));
    }
  }
}

class V1Slot extends Slot {
  private readonly memory: string;
  protected readonly pidsGroup: string;
  private readonly cpu: string | undefined;
  private readonly blkio: string | undefined;
  readonly procsFiles: readonly string[];

  constructor(
    private readonly mode: Extract<NsjailCgroupMode, { version: "v1" }>,
    name: string,
    private readonly devices: readonly string[],
  ) {
    super();
    const dir = (mount: string) => ensureDir(join(mount, mode.parent, name));
    this.memory = dir(mode.memoryMount);
    this.pidsGroup = dir(mode.pidsMount);
    this.cpu = mode.cpuMount === undefined ? undefined : dir(mode.cpuMount);
    this.blkio = mode.blkioMount === undefined || devices.length === 0 ? undefined : dir(mode.blkioMount);
    this.procsFiles = [this.memory, this.pidsGroup, this.cpu, this.blkio].filter((d) => d !== undefined).map((d) => join(d, "cgroup.procs"));
  }

  protected writeLimits(limits: SlotLimits): void {
    const bytes = limits.memoryMb * MIB;
    // memory.limit_in_bytes may never exceed memory.memsw.limit_in_bytes: raise memsw first, lower it last.
    const limit = join(this.memory, "memory.limit_in_bytes");
    const memsw = join(this.memory, "memory.memsw.limit_in_bytes");
    const raising = bytes > Number(readFileSync(limit, "utf8"));
    if (this.mode.swapLimit && raising) writeFileSync(memsw, String(bytes));
    writeFileSync(limit, String(bytes));
    if (this.mode.swapLimit && !raising) writeFileSync(memsw, String(bytes));
    writeFileSync(join(this.memory, "memory.swappiness"), "0");
    writeFileSync(join(this.pidsGroup, "pids.max"), String(limits.maxPids));
    if (this.cpu !== undefined) {
      writeFileSync(join(this.cpu, "cpu.cfs_period_us"), String(CFS_PERIOD_US));
      writeFileSync(join(this.cpu, "cpu.cfs_quota_us"), String(Math.round(limits.cpuCores * CFS_PERIOD_US)));
    }
    if (this.blkio !== undefined && limits.ioBytesPerSecond !== undefined) {
      for (const device of this.devices) {
        writeFileSync(join(this.blkio, "blkio.throttle.read_bps_device"), `${device} ${limits.ioBytesPerSecond}`);
        writeFileSync(join(this.blkio, "blkio.throttle.write_bps_device"), `${device} ${limits.ioBytesPerSecond}`);
      }
    }
  }

  protected memoryCounters(): MemoryCounters {
    return {
      oomKills: counter(join(this.memory, "memory.oom_control"), "oom_kill"),
      memoryMax: Number(readFileSync(join(this.memory, "memory.failcnt"), "utf8")),
    };
  }
}

class V2Slot extends Slot {
  private readonly dir: string;
  readonly procsFiles: readonly string[];

  constructor(
    private readonly mode: Extract<NsjailCgroupMode, { version: "v2" }>,
    name: string,
    private readonly devices: readonly string[],
  ) {
    super();
    this.dir = ensureDir(join(mode.mount, name));
    this.procsFiles = [join(this.dir, "cgroup.procs")];
  }

  protected writeLimits(limits: SlotLimits): void {
    writeFileSync(join(this.dir, "memory.max"), String(limits.memoryMb * MIB));
    if (this.mode.swapLimit) writeFileSync(join(this.dir, "memory.swap.max"), "0");
    writeFileSync(join(this.dir, "pids.max"), String(limits.maxPids));
    if (this.mode.cpu) writeFileSync(join(this.dir, "cpu.max"), `${Math.round(limits.cpuCores * CFS_PERIOD_US)} ${CFS_PERIOD_US}`);
    if (this.mode.io && limits.ioBytesPerSecond !== undefined) {
      for (const device of this.devices) {
        writeFileSync(join(this.dir, "io.max"), `${device} rbps=${limits.ioBytesPerSecond} wbps=${limits.ioBytesPerSecond}`);
      }
    }
  }

  protected get pidsGroup(): string {
    return this.dir;
  }

  protected memoryCounters(): MemoryCounters {
    const memoryEvents = counters(join(this.dir, "memory.events"));
    return { oomKills: memoryEvents("oom_kill"), memoryMax: memoryEvents("max") };
  }

  override killEverything(): void {
    const kill = join(this.dir, "cgroup.kill");
    if (existsSync(kill)) writeFileSync(kill, "1");
    else for (const pid of this.pids()) killQuietly(pid);
  }
}

function sameLimits(a: SlotLimits | undefined, b: SlotLimits): boolean {
  return a !== undefined && a.memoryMb === b.memoryMb && a.maxPids === b.maxPids && a.cpuCores === b.cpuCores && a.ioBytesPerSecond === b.ioBytesPerSecond;
}

function ensureDir(dir: string): string {
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** The "name value" lines of a flat-keyed cgroup file such as memory.events, read once. */
function counters(file: string): (name: string) => number {
  const lines = readFileSync(file, "utf8").split("\n");
  return (name) => {
    const line = lines.find((l) => l.startsWith(`${name} `));
    return line === undefined ? 0 : Number(line.slice(name.length + 1));
  };
}

/** One "name value" line of a flat-keyed cgroup file. */
const counter = (file: string, name: string): number => counters(file)(name);

function readPids(file: string): number[] {
  try {
    return readFileSync(file, "utf8").split("\n").filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** A count file's number; one that cannot be read counts as not empty (a slot nobody can look into is never taken as empty). */
function readCount(file: string): number {
  try {
    return Number(readFileSync(file, "utf8"));
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}

/**
 * What goes before nsjail's own command line so that nsjail starts inside the slot: a shell
 * that writes its pid into each cgroup.procs file and then execs nsjail, so nothing nsjail
 * forks is ever outside the slot. Exit status 125 if the slot cannot be joined.
 */
export function joinSlotArgv(procsFiles: readonly string[], command: string, args: readonly string[]): { command: string; args: string[] } {
  const script = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"';
  return { command: "/bin/sh", args: ["-c", script, "join-slot", ...procsFiles, "--", command, ...args] };
}
