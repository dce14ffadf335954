import { UidLeases } from "./uid-leases.js";

/** Host-wide bookkeeping of which uids are in use, so two server processes never share one. */
export interface UidClaims {
  /** Claims `uid` for this process; false when another live process holds it. */
  claim(uid: number): boolean;
  release(uid: number): void;
}

/**
 * Hands out a dedicated unprivileged uid to each live sandbox. With a uid of its own, a run's
 * processes can all be found and killed afterwards, even a child that left the process group
 * with setsid(), and RLIMIT_NPROC counts only that run's processes.
 */
export class SandboxUids {
  private readonly free: number[];

  constructor(
    first: number,
    count: number,
    private readonly claims: UidClaims = new UidLeases(),
  ) {
    this.free = Array.from({ length: count }, (_, i) => first + i);
  }

  acquire(): number {
    for (let tried = 0, candidates = this.free.length; tried < candidates; tried++) {
      const uid = this.free.shift();
      if (uid === undefined) break;
      if (this.claims.claim(uid)) return uid;
      this.free.push(uid); // held by another server process on this host
    }
    throw new Error("no free sandbox uid: more live sandboxes on this host than uids");
  }

  /** The uid goes to the front: reusing the most recently freed uids keeps the set of slot cgroups small. */
  release(uid: number): void {
    this.claims.release(uid);
    this.free.unshift(uid);
  }
}

/** Far above any account a distribution creates; no passwd entry is needed for a uid. */
export const SANDBOX_UID_BASE = 920_000;
export const SANDBOX_UID_COUNT = 1024;
