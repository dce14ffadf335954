/**
 * The writes that prepare cgroups on the host for cgroup.ts's detection: groups created,
 * controllers delegated (moving a group's processes to a leaf where the kernel's "no internal
 * processes" rule requires it), and the probe for swap accounting. Each returns a problem as
 * text, or undefined, and notes what it changed in `actions`.
 */
import { accessSync, constants, existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Writes +controller for each one; on EBUSY optionally moves the group's processes to a leaf first. */
export function enableControllers(group: string, controllers: readonly string[], mayMove: boolean, actions: string[]): string | undefined {
  const value = controllers.map((c) => `+${c}`).join(" ");
  const file = join(group, "cgroup.subtree_control");
  try {
    writeFileSync(file, value);
    actions.push(`enabled ${controllers.join(", ")} in ${file}`);
    return undefined;
  } catch (error) {
    if (errorCode(error) !== "EBUSY" || !mayMove) return `cannot enable ${controllers.join(", ")} in ${file}: ${message(error)}`;
  }
  const leaf = join(group, "server");
  try {
    mkdirSync(leaf, { recursive: true });
    let moved = 0;
    for (const pid of readWords(join(group, "cgroup.procs"))) {
      try {
        writeFileSync(join(leaf, "cgroup.procs"), pid);
        moved += 1;
      } catch {
        // Gone meanwhile, or a kernel thread that cannot move: neither blocks the write below.
      }
    }
    actions.push(`moved ${moved} process(es) from ${group} to ${leaf} (no internal processes rule)`);
    writeFileSync(file, value);
    actions.push(`enabled ${controllers.join(", ")} in ${file}`);
    return undefined;
  } catch (error) {
    return `cannot enable ${controllers.join(", ")} in ${file} even after moving its processes to ${leaf}: ${message(error)}`;
  }
}

/** memory.swap.max exists in child groups only with swap accounting; look in a throwaway child. */
export function probeSwapMax(dir: string, prepare: boolean): boolean {
  if (!prepare) return false;
  const probe = join(dir, `probe.${process.pid}`);
  try {
    mkdirSync(probe);
    return existsSync(join(probe, "memory.swap.max"));
  } catch {
    return false;
  } finally {
    try {
      rmdirSync(probe);
    } catch {
      // Never created.
    }
  }
}

export function ensureGroup(dir: string, prepare: boolean, actions: string[]): string | undefined {
  try {
    if (!existsSync(dir)) {
      if (!prepare) return `${dir} does not exist`;
      mkdirSync(dir, { recursive: true });
      actions.push(`created ${dir}`);
    }
    accessSync(dir, constants.W_OK);
    return undefined;
  } catch (error) {
    return `cannot use ${dir}: ${message(error)}`;
  }
}

/** The whitespace-separated words of a cgroup file; none when it cannot be read. */
export function readWords(file: string): string[] {
  try {
    return readFileSync(file, "utf8").split(/\s+/).filter(Boolean);
  } catch {
    return [];
  }
}

function errorCode(error: unknown): string | undefined {
  return typeof error === "object" && error !== null && "code" in error ? String((error as { code: unknown }).code) : undefined;
}

export function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
