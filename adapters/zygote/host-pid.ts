import { readFile } from "node:fs/promises";

/**
 * The pid, as the server sees it, of the child of `parent` whose pid in its own pid namespace
 * is `nsPid` (the fork server names its children in its namespace; the server needs its own
 * name for them to move them into a cgroup). Undefined when there is no such child.
 */
export async function childWithNamespacePid(parent: number, nsPid: number, procRoot = "/proc"): Promise<number | undefined> {
  let children: number[];
  try {
    children = (await readFile(`${procRoot}/${parent}/task/${parent}/children`, "utf8")).split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return undefined; // the parent is gone
  }
  for (const pid of children.reverse()) {
    if (namespacePid(await readStatus(procRoot, pid)) === nsPid) return pid;
  }
  return undefined;
}

/** The first child of `parent`, as the server sees it (nsjail's only child is the jailed process). */
export async function firstChild(parent: number, procRoot = "/proc"): Promise<number | undefined> {
  try {
    const first = (await readFile(`${procRoot}/${parent}/task/${parent}/children`, "utf8")).split(/\s+/).find(Boolean);
    return first === undefined ? undefined : Number(first);
  } catch {
    return undefined;
  }
}

async function readStatus(procRoot: string, pid: number): Promise<string> {
  try {
    return await readFile(`${procRoot}/${pid}/status`, "utf8");
  } catch {
    return ""; // gone meanwhile
  }
}

/** The innermost pid of a /proc/<pid>/status text: the last field of its NSpid line. */
function namespacePid(status: string): number | undefined {
  const fields = /^NSpid:\s+(.*)$/m.exec(status)?.[1]?.trim().split(/\s+/);
  const last = fields?.at(-1);
  return last === undefined ? undefined : Number(last);
}
