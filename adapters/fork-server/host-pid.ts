import { readFileSync } from "node:fs";

// Reads of /proc are served from memory: synchronous, they cost less than a trip through
// libuv's thread pool.

/**
 * Finds the children of `parent` by the pids its own pid namespace gives them (the fork server
 * names its children in its namespace; the server needs its own name for them to move them into
 * a cgroup). A child may be in a pid namespace of its own below: its NSpid line names it there
 * too. The parent's level is read here, once: a process never changes its pid namespace.
 * Undefined when the parent is gone; the finder gives undefined when there is no such child.
 */
export function namespaceChildren(parent: number, procRoot = "/proc"): ((nsPid: number) => number | undefined) | undefined {
  // The parent's namespace is the innermost one of its own NSpid line.
  const level = (namespacePids(readStatus(procRoot, parent))?.length ?? 0) - 1;
  if (level < 0) return undefined;
  return (nsPid) => {
    let children: number[];
    try {
      children = readFileSync(`${procRoot}/${parent}/task/${parent}/children`, "utf8").split(/\s+/).filter(Boolean).map(Number);
    } catch {
      return undefined; // the parent is gone
    }
    for (const pid of children.reverse()) {
      if (namespacePids(readStatus(procRoot, pid))?.[level] === nsPid) return pid;
    }
    return undefined;
  };
}

/** The child of `parent` whose pid in `parent`'s namespace is `nsPid` (see namespaceChildren). */
export const childWithNamespacePid = (parent: number, nsPid: number, procRoot = "/proc"): number | undefined => namespaceChildren(parent, procRoot)?.(nsPid);

/** The first child of `parent`, as the server sees it (nsjail's only child is the jailed process). */
export function firstChild(parent: number, procRoot = "/proc"): number | undefined {
  try {
    const first = readFileSync(`${procRoot}/${parent}/task/${parent}/children`, "utf8").split(/\s+/).find(Boolean);
    return first === undefined ? undefined : Number(first);
  } catch {
    return undefined;
  }
}

function readStatus(procRoot: string, pid: number): string {
  try {
    return readFileSync(`${procRoot}/${pid}/status`, "utf8");
  } catch {
    return ""; // gone meanwhile
  }
}

/** The pids of a /proc/<pid>/status text's NSpid line, outermost (the reader's namespace) first. */
function namespacePids(status: string): number[] | undefined {
  return /^NSpid:\s+(.*)$/m.exec(status)?.[1]?.trim().split(/\s+/).map(Number);
}
