import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Where every server process on the host records the sandbox uids it holds (root-only, like the uids). */
const UID_LEASE_DIR = "/run/pyexec-sandbox-uids";

const isCode = (error: unknown, ...codes: string[]): boolean => codes.includes((error as NodeJS.ErrnoException).code ?? "");

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return isCode(error, "EPERM");
  }
}

/**
 * Host-wide leases on sandbox uids. Server processes on one host (a dev server beside the test
 * suite, parallel test workers) draw from the same uid range; two runs under one uid would not
 * be apart, and one run's "kill everything of this uid" would kill the other's processes.
 *
 * A lease is a directory named after the uid holding one file named after the holder's pid.
 * It is taken by renaming a prepared directory into place, which the kernel does atomically and
 * only onto a missing or empty directory, so exactly one claimer wins. Releasing empties it; a
 * lease whose holder died is emptied by the next claimer (unlink, atomic too) and taken again.
 */
export class UidLeases {
  constructor(private readonly dir: string = UID_LEASE_DIR) {}

  claim(uid: number): boolean {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const lease = join(this.dir, String(uid));
    const staged = mkdtempSync(join(this.dir, `.claim-${process.pid}-`));
    try {
      writeFileSync(join(staged, String(process.pid)), "");
      for (let attempt = 0; attempt < 2; attempt++) {
        try {
          renameSync(staged, lease);
          return true;
        } catch (error) {
          if (!isCode(error, "ENOTEMPTY", "EEXIST")) throw error;
        }
        if (!this.evictDeadHolders(lease)) return false;
      }
      return false;
    } finally {
      rmSync(staged, { recursive: true, force: true });
    }
  }

  release(uid: number): void {
    rmSync(join(this.dir, String(uid), String(process.pid)), { force: true });
  }

  /** Empties a lease whose holder is gone; false when its holder is alive. */
  private evictDeadHolders(lease: string): boolean {
    let holders: string[];
    try {
      holders = readdirSync(lease);
    } catch {
      return true; // released meanwhile
    }
    for (const holder of holders) {
      if (isAlive(Number(holder))) return false;
      rmSync(join(lease, holder), { force: true });
    }
    return true;
  }
}
