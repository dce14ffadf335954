import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

/**
 * memory's num_cgroups in /proc/cgroups: the kernel's count of memory cgroups, live ones and the
 * dying ones it still keeps (their ids end at 65535).
 */
export function memoryCgroupCount(): number {
  const line = readFileSync("/proc/cgroups", "utf8")
    .split("\n")
    .find((l) => l.startsWith("memory\t"));
  return Number(line?.split("\t")[2]);
}

/** Drops a file's pages from the page cache, so the next read charges them to the reader's cgroup. */
export const evictFromPageCache = (file: string): void => {
  execFileSync("dd", [`if=${file}`, "iflag=nocache", "count=0", "status=none"]);
};
