/**
 * Hands out a dedicated unprivileged uid to each live sandbox. With a uid of its own, a run's
 * processes can all be found and killed afterwards, even a child that left the process group
 * with setsid(), and RLIMIT_NPROC counts only that run's processes.
 */
export class SandboxUids {
  private readonly free: number[];

  constructor(first: number, count: number) {
    this.free = Array.from({ length: count }, (_, i) => first + i);
  }

  acquire(): number {
    const uid = this.free.shift();
    if (uid === undefined) throw new Error("no free sandbox uid: more live sandboxes than uids");
    return uid;
  }

  release(uid: number): void {
    this.free.push(uid);
  }
}

/** Far above any account a distribution creates, below nobody's 65534 being irrelevant here. */
export const SANDBOX_UID_BASE = 920_000;
export const SANDBOX_UID_COUNT = 1024;
