import type { PrestartableSandbox, StartedSandbox } from "../../adapters/pool/prestartable-sandbox.js";
import { NO_OUTPUT } from "../../domain/captured-output.js";
import type { ExecutionRequest } from "../../domain/execution-request.js";
import { ok } from "../../domain/result.js";
import type { SandboxOutcome } from "../../domain/sandbox.port.js";

/** Which sandbox ran a request: a cold one, or the n-th pre-started one (from 1). */
export type RanIn = "cold" | number;

/** A run the test finishes when it says so; without an outcome, a success with result 1. */
export interface PendingRun {
  readonly request: ExecutionRequest;
  finish(outcome?: SandboxOutcome): void;
}

/**
 * The one hand-written sandbox, of the use-case, pool, drain and metrics-gauge tests. With an
 * `answer`, each run ends with what it returns; without one, each run waits in `pending` until
 * the test finishes it. It records every request, and its pre-started sandboxes can each run
 * once, die while waiting (a test sets `alive` false), fail to start (`failNextPrestarts`) or to
 * be discarded (`failDiscards`).
 */
export class FakeSandbox implements PrestartableSandbox {
  readonly backend = "fake";
  readonly isolation = "none: a fake";
  /** Every request run, cold or pre-started, in order. */
  readonly requests: ExecutionRequest[] = [];
  readonly pending: PendingRun[] = [];
  /** Each pre-started sandbox, in the order they were started; `goAway()` makes one unusable and says so (`gone`). */
  readonly prestarted: { alive: boolean; used: boolean; goAway(): void }[] = [];
  coldRuns = 0;
  discarded = 0;
  failNextPrestarts = 0;
  /** Makes every discard of a pre-started sandbox fail (after counting it). */
  failDiscards = false;
  closed = false;

  constructor(
    private readonly answer?: (request: ExecutionRequest, ranIn: RanIn) => Promise<SandboxOutcome>,
    /** Which requests a pre-started sandbox accepts. */
    private readonly fits: (request: ExecutionRequest) => boolean = () => true,
  ) {}

  run(request: ExecutionRequest): Promise<SandboxOutcome> {
    this.coldRuns++;
    return this.runIn(request, "cold");
  }

  async prestart(): Promise<StartedSandbox> {
    if (this.failNextPrestarts > 0) {
      this.failNextPrestarts--;
      throw new Error("cannot start");
    }
    let goAway!: () => void;
    const gone = new Promise<void>((resolve) => (goAway = resolve));
    const state = {
      alive: true,
      used: false,
      goAway: () => {
        state.alive = false;
        goAway();
      },
    };
    this.prestarted.push(state);
    const id = this.prestarted.length;
    return {
      get alive() {
        return state.alive;
      },
      gone,
      accepts: (request) => this.fits(request),
      run: async (request) => {
        if (state.used) throw new Error("a sandbox was reused");
        state.used = true;
        return this.runIn(request, id);
      },
      discard: async () => {
        this.discarded++;
        if (this.failDiscards) throw new Error("cannot discard");
      },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private runIn(request: ExecutionRequest, ranIn: RanIn): Promise<SandboxOutcome> {
    this.requests.push(request);
    if (this.answer) return this.answer(request, ranIn);
    return new Promise((resolve) => {
      this.pending.push({ request, finish: (outcome) => resolve(outcome ?? ok({ resultJson: "1", output: NO_OUTPUT, durationMs: 1 })) });
    });
  }
}
