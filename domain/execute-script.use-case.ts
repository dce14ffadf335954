import type { AdmissionGate } from "./admission.js";
import { NO_OUTPUT } from "./captured-output.js";
import type { ExecutionRequest } from "./execution-request.js";
import { failure } from "./execution-result.js";
import { err } from "./result.js";
import type { SandboxOutcome, SandboxPort } from "./sandbox.port.js";

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
    const admission = await this.gate.acquire();
    if (!admission.admitted) {
      const why = admission.reason === "queue-full" ? "all sandboxes are busy and the queue is full" : "no sandbox became free in time";
      return err(failure("BUSY", `Server busy: ${why}; retry later`, NO_OUTPUT, { retryAfterSeconds: this.retryAfterSeconds }));
    }
    try {
      return await this.sandbox.run(request);
    } catch (cause) {
      this.onInternalError(cause);
      return err(failure("INTERNAL", "Internal error", NO_OUTPUT));
    } finally {
      admission.release();
    }
  }
}
