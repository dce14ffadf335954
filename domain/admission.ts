/**
 * Admission control: at most `maxConcurrent` runs at once, at most `maxQueued` waiting.
 * A request that finds the queue full, or waits longer than `maxWaitMs`, is refused
 * instead of hanging; one whose signal is aborted while it waits leaves the queue.
 */
export interface AdmissionLimits {
  readonly maxConcurrent: number;
  readonly maxQueued: number;
  readonly maxWaitMs: number;
}

export type Admission =
  | { readonly admitted: true; release(): void }
  | { readonly admitted: false; readonly reason: "queue-full" | "waited-too-long" | "cancelled" };

interface Waiter {
  grant(): void;
}

export class AdmissionGate {
  private runningCount = 0;
  private readonly waiting: Waiter[] = [];

  constructor(private readonly limits: AdmissionLimits) {}

  get running(): number {
    return this.runningCount;
  }

  get queued(): number {
    return this.waiting.length;
  }

  acquire(signal?: AbortSignal): Promise<Admission> {
    if (signal?.aborted) return Promise.resolve({ admitted: false, reason: "cancelled" });
    if (this.runningCount < this.limits.maxConcurrent) {
      this.runningCount++;
      return Promise.resolve(this.admitted());
    }
    if (this.waiting.length >= this.limits.maxQueued) {
      return Promise.resolve({ admitted: false, reason: "queue-full" });
    }
    return new Promise((resolve) => {
      const leave = (reason: "waited-too-long" | "cancelled") => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", cancel);
        const index = this.waiting.indexOf(waiter);
        if (index >= 0) this.waiting.splice(index, 1);
        resolve({ admitted: false, reason });
      };
      const cancel = () => leave("cancelled");
      const waiter: Waiter = {
        grant: () => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", cancel);
          this.runningCount++;
          resolve(this.admitted());
        },
      };
      const timer = setTimeout(() => leave("waited-too-long"), this.limits.maxWaitMs);
      signal?.addEventListener("abort", cancel, { once: true });
      this.waiting.push(waiter);
    });
  }

  private admitted(): Admission {
    let released = false;
    return {
      admitted: true,
      release: () => {
        if (released) return;
        released = true;
        this.runningCount--;
        this.waiting.shift()?.grant();
      },
    };
  }
}
