/**
 * Finds out how jails' memory and pids limits can be enforced on this host and has the parent
 * group that holds the slot groups of cgroup-slots.ts prepared (cgroup-preparation.ts; see
 * NsjailCgroupMode).
 *
 * - cgroup v1 (also the "hybrid" layout, where the controllers sit under
 *   /sys/fs/cgroup/<controller> and a cgroup2 mount at /sys/fs/cgroup/unified has none of
 *   them): a parent group under each controller's mount.
 * - cgroup v2: a dedicated group (<mount>/NSJAIL) whose cgroup.subtree_control has the
 *   controllers enabled, and so every group above it. Enabling them in a group that holds
 *   processes is refused (EBUSY, the "no internal processes" rule): inside a container whose
 *   cgroup namespace root holds the server itself, the processes of that group are first moved
 *   to a leaf group (<mount>/server), as nsjail itself would do for its own process.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { NsjailCgroupMode } from "../nsjail/nsjail-argv.js";
import { enableControllers, ensureGroup, message, probeSwapMax, readWords } from "./cgroup-preparation.js";
import { type CgroupMount, parseMountinfo } from "./mountinfo.js";

export interface CgroupDetection {
  /** What to pass to buildNsjailArgv; version "none" when no cgroup setup is usable. */
  readonly mode: NsjailCgroupMode;
  /** Why cgroups (or some part of them) are not usable; empty when all is well. */
  readonly problems: readonly string[];
  /** What was prepared or changed on the host (for the server log). */
  readonly actions: readonly string[];
}

export interface CgroupDetectionOptions {
  /** Name of the parent group the slot groups go into. Default "NSJAIL". */
  readonly parent?: string;
  /** Also set up the cpu and io (v1: blkio) controllers, for a CPU quota and IO throttling per jail. Default true (optional: missing ones are not a problem). */
  readonly cpu?: boolean;
  /** Create the parent groups and enable controllers (needs root). Default true; false only inspects. */
  readonly prepare?: boolean;
  /** v2 only: move the processes of the mount's root group to a leaf so controllers can be enabled. Default true. */
  readonly moveProcessesToLeaf?: boolean;
  /** For tests. */
  readonly mountinfoPath?: string;
}

export function detectCgroups(options: CgroupDetectionOptions = {}): CgroupDetection {
  const parent = options.parent ?? "NSJAIL";
  if (!/^[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+)*$/.test(parent) || parent.split("/").includes("..")) {
    throw new Error(`invalid cgroup parent name: ${parent}`);
  }
  let mounts: CgroupMount[];
  try {
    mounts = parseMountinfo(readFileSync(options.mountinfoPath ?? "/proc/self/mountinfo", "utf8"));
  } catch (error) {
    return none([`cannot read the mount table: ${message(error)}`], []);
  }
  const v1 = (controller: string) => mounts.find((m) => m.version === 1 && m.controllers.includes(controller));
  const memory = v1("memory");
  const pids = v1("pids");
  const optional = (controller: string) => (options.cpu === false ? undefined : v1(controller));
  if (memory && pids) return prepareV1(memory, pids, optional("cpu"), optional("blkio"), parent, options);
  const problems: string[] = [];
  if (memory || pids) problems.push("cgroup v1 has only one of the memory and pids controllers");
  const v2Mounts = mounts.filter((m) => m.version === 2);
  for (const v2 of v2Mounts) {
    const available = readWords(join(v2.mountPoint, "cgroup.controllers"));
    if (available.includes("memory") && available.includes("pids")) return prepareV2(v2, available, parent, options);
  }
  if (v2Mounts.length === 0 && !memory && !pids) problems.push("no cgroup filesystem is mounted");
  else problems.push("no cgroup hierarchy offers both the memory and the pids controller");
  return none(problems, []);
}

function prepareV1(
  memory: CgroupMount,
  pids: CgroupMount,
  cpu: CgroupMount | undefined,
  blkio: CgroupMount | undefined,
  parent: string,
  options: CgroupDetectionOptions,
): CgroupDetection {
  const problems: string[] = [];
  const actions: string[] = [];
  for (const mount of [memory, pids]) {
    const problem = ensureGroup(join(mount.mountPoint, parent), options.prepare !== false, actions);
    if (problem) problems.push(problem);
  }
  if (problems.length > 0) return none(problems, actions);
  // Optional: without cpu the jail gets no CPU quota, without blkio no IO throttling.
  const usable = (mount: CgroupMount | undefined) =>
    mount !== undefined && ensureGroup(join(mount.mountPoint, parent), options.prepare !== false, actions) === undefined ? mount.mountPoint : undefined;
  const cpuMount = usable(cpu);
  const blkioMount = usable(blkio);
  // memsw files exist only with swap accounting; without them swap cannot be forbidden (on a
  // host without swap nothing is lost).
  const swapLimit = existsSync(join(memory.mountPoint, "memory.memsw.limit_in_bytes"));
  return {
    mode: {
      version: "v1",
      memoryMount: memory.mountPoint,
      pidsMount: pids.mountPoint,
      ...(cpuMount === undefined ? {} : { cpuMount }),
      ...(blkioMount === undefined ? {} : { blkioMount }),
      parent,
      swapLimit,
    },
    problems: [],
    actions,
  };
}

function prepareV2(mount: CgroupMount, available: readonly string[], parent: string, options: CgroupDetectionOptions): CgroupDetection {
  const actions: string[] = [];
  const optional = ["cpu", "io"].filter((c) => options.cpu !== false && available.includes(c));
  let wanted = ["memory", "pids", ...optional];
  const dir = join(mount.mountPoint, parent);
  const prepare = options.prepare !== false;
  // Every group from the mount down to dir must delegate the controllers to its children.
  const parts = parent.split("/");
  const chain = [mount.mountPoint, ...parts.map((_, i) => join(mount.mountPoint, ...parts.slice(0, i + 1)))];
  for (const [index, group] of chain.entries()) {
    if (index > 0) {
      const problem = ensureGroup(group, prepare, actions);
      if (problem) return none([problem], actions);
    }
    const enabled = readWords(join(group, "cgroup.subtree_control"));
    const missing = wanted.filter((c) => !enabled.includes(c));
    if (missing.length === 0) continue;
    if (!prepare) return none([`${group}/cgroup.subtree_control lacks ${missing.join(", ")}`], actions);
    const problem = enableControllers(group, missing, index === 0 && options.moveProcessesToLeaf !== false, actions);
    if (problem === undefined) continue;
    // cpu and io are optional: without them the jail only has no CPU quota or IO throttle. Retry without them.
    if (!missing.some((c) => optional.includes(c))) return none([problem], actions);
    const required = missing.filter((c) => !optional.includes(c));
    if (required.length > 0 && enableControllers(group, required, false, actions) !== undefined) {
      return none([problem], actions);
    }
    wanted = wanted.filter((c) => !optional.includes(c));
  }
  return {
    mode: { version: "v2", mount: dir, swapLimit: probeSwapMax(dir, prepare), cpu: wanted.includes("cpu"), io: wanted.includes("io") },
    problems: [],
    actions,
  };
}

function none(problems: string[], actions: string[]): CgroupDetection {
  return { mode: { version: "none" }, problems, actions };
}
