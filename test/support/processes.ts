import { access, readdir, readFile, readlink } from "node:fs/promises";

/** A live process a scan found, with its command line (NULs shown as spaces). */
interface FoundProcess {
  readonly pid: number;
  readonly cmdline: string;
}

type Found = FoundProcess[];

async function readProc(pid: number, file: string): Promise<string> {
  try {
    return await readFile(`/proc/${pid}/${file}`, "latin1");
  } catch {
    return ""; // gone meanwhile, or a kernel thread
  }
}

/** The one /proc scan: every live process but the test's own that `matches`. Reading other users' entries needs root. */
async function processesWhere(matches: (pid: number) => Promise<boolean>): Promise<Found> {
  const found: Found = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const pid = Number(entry);
    if (await matches(pid)) found.push({ pid, cmdline: (await readProc(pid, "cmdline")).replaceAll("\0", " ") });
  }
  return found;
}

/** Live processes whose command line or initial environment contains `needle`. */
export const processesMatching = (needle: string): Promise<Found> =>
  processesWhere(async (pid) => (await readProc(pid, "cmdline")).includes(needle) || (await readProc(pid, "environ")).includes(needle));

/**
 * Live processes that see `path` in their own view of the filesystem (through /proc/<pid>/root,
 * so inside their mount namespace): in a jail, the processes that see a file of a unique name
 * in the work dir are that run's.
 */
export const processesSeeing = (path: string): Promise<Found> =>
  processesWhere((pid) =>
    access(`/proc/${pid}/root${path}`).then(
      () => true,
      () => false, // not there, gone meanwhile, or a kernel thread
    ),
  );

/** Processes whose working directory is `dir` or inside it: a sandbox's work dir lives in its server's TMPDIR. */
export const processesIn = (dir: string): Promise<Found> =>
  processesWhere(async (pid) => {
    const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => undefined); // gone, or not ours to look at
    return cwd !== undefined && (cwd === dir || cwd.startsWith(`${dir}/`));
  });

/**
 * Polls briefly until `find` finds no process and returns what it still finds then.
 * Processes are killed before the response is sent; the polling only absorbs the kernel's
 * own delay in tearing them down (and reaping them).
 */
export async function survivors(find: () => Promise<Found>, attempts = 40, intervalMs = 50): Promise<Found> {
  let found = await find();
  for (let i = 0; i < attempts && found.length > 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
    found = await find();
  }
  return found;
}

/** The processes still matching `needle` (see processesMatching) once the kernel had time to tear them down. */
export const survivorsMatching = (needle: string) => survivors(() => processesMatching(needle));

/** The processes still seeing `path` (see processesSeeing) once the kernel had time to tear them down. */
export const survivorsSeeing = (path: string) => survivors(() => processesSeeing(path));

/** What `find` finds once it finds anything (polled for up to 20 s). */
export async function appearing(find: () => Promise<Found>): Promise<Found> {
  let found = await find();
  for (let i = 0; i < 400 && found.length === 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    found = await find();
  }
  return found;
}

/** The processes of the jailed run that made the file `mark` in its work dir, once there are any (polled for up to 20 s). */
export const processesOfRun = (mark: string): Promise<Found> => appearing(() => processesSeeing(`/sandbox/work/${mark}`));
