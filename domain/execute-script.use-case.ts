import type { AdmissionGate } from "./admission.js";
import { NO_OUTPUT } from "./captured-output.js";
import type { ExecutionRequest } from "./execution-request.js";
import { failure } from "./execution-result.js";
import { err } from "./result.js";
import type { SandboxOutcome, SandboxPort } from "./sandbox.port.js";

const CANCELLED_MESSAGE = "The request was cancelled (its client went away)";

const durationOf = ({ durationMs }: { durationMs?: number }) => (durationMs === undefined ? {} : { durationMs });

/** Runs one request through the sandbox port, behind admission control. */
export class ExecuteScript {
  constructor(
    private readonly sandbox: SandboxPort,
    private readonly gate: AdmissionGate,
    private readonly retryAfterSeconds: number,
    /** Told the details of a bug; the client only learns that there was one. */
    private readonly onInternalError: (cause: unknown) => void = () => undefined,
  ) {}

  async execute(request: ExecutionRequest): Promise<SandboxOutcome> {
    const admission = await this.gate.acquire(request.signal);
    if (!admission.admitted) {
      if (admission.reason === "cancelled") return err(failure("CANCELLED", `${CANCELLED_MESSAGE}: it was not run`, NO_OUTPUT));
      const why = admission.reason === "queue-full" ? "all sandboxes are busy and the queue is full" : "no sandbox became free in time";
      return err(failure("BUSY", `Server busy: ${why}; retry later`, NO_OUTPUT, { retryAfterSeconds: this.retryAfterSeconds }));
    }
    try {
      // It went away while the slot was being handed over.
      if (request.signal?.aborted) return err(failure("CANCELLED", `${CANCELLED_MESSAGE}: it was not run`, NO_OUTPUT));
      const outcome = await this.sandbox.run(request);
      // The sandbox stopped the run as at its time limit: that TIMEOUT is the cancellation.
      if (request.signal?.aborted && !outcome.ok && outcome.error.code === "TIMEOUT")
        return err(failure("CANCELLED", `${CANCELLED_MESSAGE}: its run was stopped`, outcome.error.output, durationOf(outcome.error)));
      return outcome;
    } catch (cause) {
      this.onInternalError(cause);
      return err(failure("INTERNAL", "Internal error", NO_OUTPUT));
    } finally {
      admission.release();
    }
  }
}
