import type { CapturedOutput } from "../../domain/captured-output.js";
import type { ExecutionRequest } from "../../domain/execution-request.js";
import { failure } from "../../domain/execution-result.js";
import { err } from "../../domain/result.js";
import type { SandboxOutcome } from "../../domain/sandbox.port.js";
import type { StartedSandbox } from "../pool/prestartable-sandbox.js";
import type { RunLease } from "../run/run-leases.js";
import type { LiveRun, RunEnd, RunLifecycle } from "../run/run-lifecycle.js";
import type { CappedBuffer } from "./capped-buffer.js";
import type { HarnessExit, HarnessProcess, HarnessRun } from "./harness-process.js";
import { type ArtifactLimits, type HarnessLimits, harnessRequestFor } from "./harness-protocol.js";
import { sessionOf } from "./session-link.js";

/** What a run (or a session's cell) printed, from its two capped streams. */
export const outputOf = (streams: { readonly stdout: CappedBuffer; readonly stderr: CappedBuffer }): CapturedOutput => ({
  stdout: streams.stdout.text(),
  stderr: streams.stderr.text(),
  stdoutTruncated: streams.stdout.truncated,
  stderrTruncated: streams.stderr.truncated,
});

/** What the client learns of a sandbox that never started (the backend logs why). */
export const NOT_STARTED_MESSAGE = "The sandbox could not be started";

/** The outcome of a run whose sandbox never started. */
export const notStarted = (run: HarnessRun): SandboxOutcome => err(failure("SANDBOX_UNAVAILABLE", NOT_STARTED_MESSAGE, outputOf(run)));

/** How long a discarded sandbox's slot may take to empty before its uid is quarantined. */
const DISCARD_EMPTY_WAIT_MS = 5000;

/** What a backend decides about the runs of its started harnesses. */
export interface StartedHarnessPolicy {
  /** The memory limit the sandbox was started for: only requests with that limit fit. */
  readonly memoryMb: number;
  readonly maxResultBytes: number;
  readonly artifactLimits: ArtifactLimits;
  /** The run's life once its script is handed over. */
  readonly lifecycle: RunLifecycle;
  /** The limits the harness applies to itself when the script arrives. */
  limits(request: ExecutionRequest): HarnessLimits;
  /** What the run amounted to, from the backend's view of how it ended. */
  outcome(run: HarnessRun, end: RunEnd<HarnessExit>, request: ExecutionRequest): SandboxOutcome;
  /** Gives back what the sandbox held (its lease, work dir, files) once it is over. */
  cleanUp(): Promise<void> | void;
}

/** One started sandbox of any backend, waiting for its single script. */
export class StartedHarness implements StartedSandbox {
  readonly gone: Promise<void>;

  constructor(
    private readonly harness: HarnessProcess,
    private readonly lease: RunLease | undefined,
    private readonly policy: StartedHarnessPolicy,
  ) {
    this.gone = harness.ended.then(() => undefined);
  }

  get alive(): boolean {
    return !this.harness.exited;
  }

  /**
   * A pre-started sandbox's memory limit is set (a jail's cgroup) or spent (its preloaded
   * modules already loaded under an address-space limit) before its script arrives, so a request
   * asking for another limit gets a cold sandbox.
   */
  accepts(request: ExecutionRequest): boolean {
    return request.memoryMb === this.policy.memoryMb;
  }

  ready(): Promise<void> {
    return this.harness.ready();
  }

  async run(request: ExecutionRequest): Promise<SandboxOutcome> {
    const { harness, policy } = this;
    const { maxResultBytes, artifactLimits } = policy;
    const harnessRequest = harnessRequestFor(request, { limits: policy.limits(request), maxResultBytes, artifactLimits });
    const live: LiveRun<HarnessExit> = {
      handOver: () => harness.handOver(harnessRequest, sessionOf(request)),
      ended: harness.ended,
      stop: () => harness.stop(),
      drain: (graceMs) => harness.drain(graceMs),
    };
    const outcome = (end: RunEnd<HarnessExit>) => policy.outcome(harness.observed(end), end, request);
    return policy.lifecycle.finish(live, this.lease, request, outcome, async () => policy.cleanUp());
  }

  async discard(): Promise<void> {
    try {
      await this.harness.discard();
      // As after a run: what is left in the slot is killed before the uid goes back (or the quarantine keeps it).
      await this.lease?.slot?.emptied(DISCARD_EMPTY_WAIT_MS);
    } finally {
      await this.policy.cleanUp();
    }
  }
}
