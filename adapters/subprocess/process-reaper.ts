import { lstat, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";

function signalGroup(pgid: number): void {
  try {
    process.kill(-pgid, "SIGKILL");
  } catch {
    // ESRCH: the group is already gone
  }
}

interface ProcessEntry {
  readonly pid: number;
  /** Dead, waiting for its parent (init, for an orphan) to reap it; it still counts against RLIMIT_NPROC. */
  readonly zombie: boolean;
}

async function processesOf(uid: number): Promise<ProcessEntry[]> {
  const found: ProcessEntry[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = await readFile(`/proc/${entry}/status`, "utf8");
      const realUid = /^Uid:\s+(\d+)/m.exec(status)?.[1];
      if (realUid !== undefined && Number(realUid) === uid) {
        found.push({ pid: Number(entry), zombie: /^State:\s+Z/m.test(status) });
      }
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

/** How long to wait for killed orphans to be reaped before the uid is handed out again anyway. */
const SETTLE_MS = 5000;
const SETTLE_POLL_MS = 20;

/**
 * Kills every process running as `uid`: `kill -9 -1` run as that uid reaches exactly its
 * processes, atomically with respect to fork, so neither a fork bomb nor a setsid() child survives.
 * It then waits until init has reaped the orphans: until then they count against the uid's
 * RLIMIT_NPROC, and the next run under this uid could not start a single process.
 */
export async function killEverythingOf(uid: number, pgid: number): Promise<void> {
  signalGroup(pgid);
  const deadline = performance.now() + SETTLE_MS;
  for (;;) {
    const processes = await processesOf(uid);
    if (processes.length === 0 || performance.now() > deadline) return;
    if (processes.some((entry) => !entry.zombie)) {
      await execa("/bin/kill", ["-9", "-1"], { uid, gid: uid, reject: false, env: {}, extendEnv: false });
    }
    await new Promise((resolve) => setTimeout(resolve, SETTLE_POLL_MS));
  }
}

/** Without a uid of its own (server not root) only the process group can be killed. */
export async function killProcessGroup(pgid: number): Promise<void> {
  signalGroup(pgid);
}

/** The world-writable directories of a Debian host (/var/lock is a link to /run/lock). */
const SHARED_TEMP_DIRS = ["/tmp", "/var/tmp", "/dev/shm", "/run/lock"];

/** Removes what a run's uid left in the machine's shared temp directories. */
export async function removeFilesOwnedBy(uid: number): Promise<void> {
  for (const dir of SHARED_TEMP_DIRS) {
    let entries: string[];
    try {
      entries = await readdir(dir);
    } catch {
      continue;
    }
    for (const entry of entries) {
      const path = join(dir, entry);
      try {
        if ((await lstat(path)).uid === uid) await rm(path, { recursive: true, force: true });
      } catch {
        // vanished or not ours to remove
      }
    }
  }
}
