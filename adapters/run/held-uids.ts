import type { SandboxUids } from "./sandbox-uids.js";

/**
 * Sandbox uids leased host-wide once and then kept between runs: the uid a run gives back goes
 * to the next one (whose cgroup slot is emptied first, as for any new lease), without the
 * lease's file-system round trip on every run. releaseIdle() gives back the leases of those
 * given back; one never given back (its slot could not be emptied) stays leased until this
 * process ends. At most as many are held as runs were ever alive at once.
 */
export class HeldUids {
  private readonly idle: number[] = [];
  private readonly held = new Set<number>();

  constructor(private readonly leases: Pick<SandboxUids, "acquire" | "release">) {}

  acquire(): number {
    const reused = this.idle.pop();
    if (reused !== undefined) return reused;
    const uid = this.leases.acquire();
    this.held.add(uid);
    return uid;
  }

  release(uid: number): void {
    if (this.held.has(uid) && !this.idle.includes(uid)) this.idle.push(uid);
  }

  releaseIdle(): void {
    for (const uid of this.idle.splice(0)) {
      this.leases.release(uid);
      this.held.delete(uid);
    }
  }
}
