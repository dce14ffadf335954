import { existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import { dirname, join } from "node:path";

/** glibc's major()/minor() of a dev_t. */
const major = (dev: number): number => Number(((BigInt(dev) >> 8n) & 0xfffn) | ((BigInt(dev) >> 32n) & ~0xfffn));
const minor = (dev: number): number => Number((BigInt(dev) & 0xffn) | ((BigInt(dev) >> 12n) & ~0xffn));

/**
 * The whole block devices ("major:minor") that hold these paths: what a jail reads its
 * runtime from, and so what its IO is throttled on (cgroup throttles apply to whole disks,
 * not partitions). Paths on a filesystem without a block device of its own (overlayfs in a
 * container, tmpfs) yield none.
 */
export function blockDevicesOf(paths: readonly string[], sysRoot = "/sys"): string[] {
  const devices = new Set<string>();
  for (const path of paths) {
    let dev: number;
    try {
      dev = statSync(path).dev;
    } catch {
      continue;
    }
    const sysDir = join(sysRoot, "dev", "block", `${major(dev)}:${minor(dev)}`);
    if (!existsSync(sysDir)) continue;
    const disk = existsSync(join(sysDir, "partition")) ? dirname(realpathSync(sysDir)) : sysDir;
    try {
      devices.add(readFileSync(join(disk, "dev"), "utf8").trim());
    } catch {
      // Not a block device after all.
    }
  }
  return [...devices];
}
