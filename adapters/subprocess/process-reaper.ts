import { execa } from "execa";
import { readdir, readFile, lstat, rm } from "node:fs/promises";
import { join } from "node:path";

function signalGroup(pgid: number): void {
  try {
    process.kill(-pgid, "SIGKILL");
  } catch {
    // ESRCH: the group is already gone
  }
}

async function processesOf(uid: number): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = await readFile(`/proc/${entry}/status`, "utf8");
      const realUid = /^Uid:\s+(\d+)/m.exec(status)?.[1];
      if (realUid !== undefined && Number(realUid) === uid) pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

/**
 * Kills every process running as `uid`: `kill -9 -1` run as that uid reaches exactly its
 * processes, atomically with respect to fork, so neither a fork bomb nor a setsid() child survives.
 */
export async function killEverythingOf(uid: number, pgid: number): Promise<void> {
  signalGroup(pgid);
  for (let attempt = 0; attempt < 5; attempt++) {
    if ((await processesOf(uid)).length === 0) return;
    await execa("/bin/kill", ["-9", "-1"], { uid, gid: uid, reject: false, env: {}, extendEnv: false });
  }
}

/** Without a uid of its own (server not root) only the process group can be killed. */
export async function killProcessGroup(pgid: number): Promise<void> {
  signalGroup(pgid);
}

const SHARED_TEMP_DIRS = ["/tmp", "/var/tmp", "/dev/shm"];

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
