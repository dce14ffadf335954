import type { ExecutionRequest } from "../../domain/execution-request.js";
import type { SandboxOutcome, SandboxPort } from "../../domain/sandbox.port.js";
import { alsoWhenOpened } from "../python/session-link.js";
import type { PrestartableSandbox, StartedSandbox } from "./prestartable-sandbox.js";

const RETRY_AFTER_FAILURE_MS = 1000;

export interface PoolOptions {
  /** Sandboxes kept started and waiting; 0 turns the pool off. */
  readonly size: number;
  /** CPU slots: refills only start while fewer than this many runs and refills are active. */
  readonly cpuSlots: number;
  readonly onError?: (error: unknown) => void;
}

/**
 * Keeps `size` single-use sandboxes started ahead of time. A request takes one and the
 * sandbox exits after that run: nothing is ever reused, so nothing leaks between runs.
 * With none ready, a request starts one cold, so a drained pool is never slower than no pool.
 * Refills only use idle CPU slots, so they never starve running scripts.
 */
export class PrewarmedPool implements SandboxPort {
  private readonly ready: StartedSandbox[] = [];
  private running = 0;
  private refilling = 0;
  private closed = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly backendSandbox: PrestartableSandbox,
    private readonly options: PoolOptions,
  ) {
    this.refill();
  }

  get backend(): string {
    return this.backendSandbox.backend;
  }

  get isolation(): string {
    return this.backendSandbox.isolation;
  }

  /** Sandboxes started and waiting for a script. */
  get readyCount(): number {
    return this.ready.length;
  }

  async run(request: ExecutionRequest): Promise<SandboxOutcome> {
    this.running++;
    let counted = true;
    const done = () => {
      if (!counted) return;
      counted = false;
      this.running--;
      // After the current microtasks, so a queued request admitted by this run's end is
      // counted as running before a refill competes with it for CPU.
      setTimeout(() => this.refill(), 0);
    };
    // An open session's run waits for cells, not on a CPU: it counts only until it is open, or
    // sessions would keep the pool from refilling (each running cell holds a concurrency slot).
    const forwarded = alsoWhenOpened(request, done);
    try {
      const sandbox = await this.take(forwarded);
      return await (sandbox ? sandbox.run(forwarded) : this.backendSandbox.run(forwarded));
    } finally {
      done();
    }
  }

  /** Resolves once the pool is full (or cannot fill further right now); for tests and benchmarks. */
  whenFull(): Promise<void> {
    if (this.ready.length >= this.options.size || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async close(): Promise<void> {
    this.closed = true;
    const waiting = this.ready.splice(0);
    // A discard that fails must not keep the backend open.
    await Promise.allSettled(waiting.map((sandbox) => sandbox.discard()));
    this.wakeIdleWaiters();
    await this.backendSandbox.close();
  }

  /** The first live sandbox that fits the request; dead ones found on the way are thrown away. */
  private async take(request: ExecutionRequest): Promise<StartedSandbox | undefined> {
    const dead = this.ready.filter((sandbox) => !sandbox.alive);
    for (const sandbox of dead) this.ready.splice(this.ready.indexOf(sandbox), 1);
    await Promise.all(dead.map((sandbox) => sandbox.discard()));
    const index = this.ready.findIndex((sandbox) => sandbox.accepts(request));
    return index < 0 ? undefined : this.ready.splice(index, 1)[0];
  }

  /** Starts sandboxes while the pool is short and a CPU slot is idle (neither running a script nor starting one). */
  private refill(): void {
    if (this.closed) return;
    while (this.ready.length + this.refilling < this.options.size && this.running + this.refilling < this.options.cpuSlots) {
      this.refilling++;
      void this.startOne().then((delayMs) => {
        this.refilling--;
        if (delayMs === 0) this.refill();
        else setTimeout(() => this.refill(), delayMs);
      });
    }
    if (this.refilling === 0) this.wakeIdleWaiters();
  }

  /** Starts one sandbox into the pool; the delay before the next attempt comes back. */
  private async startOne(): Promise<number> {
    try {
      const sandbox = await this.backendSandbox.prestart();
      if (this.closed) await sandbox.discard();
      else this.keep(sandbox);
      return 0;
    } catch (error) {
      this.options.onError?.(error);
      return RETRY_AFTER_FAILURE_MS;
    }
  }

  /** A ready sandbox that becomes unusable while it waits is thrown away and replaced at once. */
  private keep(sandbox: StartedSandbox): void {
    this.ready.push(sandbox);
    void sandbox.gone?.then(() => {
      const index = this.ready.indexOf(sandbox);
      if (index < 0) return;
      this.ready.splice(index, 1);
      void sandbox.discard().catch((error: unknown) => this.options.onError?.(error));
      this.refill();
    });
  }

  private wakeIdleWaiters(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }
}
