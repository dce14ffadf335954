import { NO_OUTPUT } from "../../domain/captured-output.js";
import type { ExecutionFailure } from "../../domain/execution-result.js";
import { failure } from "../../domain/execution-result.js";
import { err, type Result } from "../../domain/result.js";
import type { SandboxPort } from "../../domain/sandbox.port.js";
import type { SandboxSession, SessionSandboxPort, SessionSpec } from "../../domain/session.port.js";
import type { ArtifactLimits } from "../python/harness-protocol.js";

/** What a session's harness may send back per cell (the service's MAX_OUTPUT_BYTES, MAX_RESULT_BYTES, MAX_OUTPUT_FILES...). */
export interface SessionOutputLimits {
  readonly maxOutputBytes: number;
  readonly maxResultBytes: number;
  readonly artifactLimits: ArtifactLimits;
}

/** Sessions on any backend: a session is a run of the backend whose harness serves cells until it is ended. */
export class HarnessSessions implements SessionSandboxPort {
  constructor(
    private readonly sandbox: SandboxPort,
    private readonly limits: SessionOutputLimits,
  ) {}

  async openSession(_spec: SessionSpec): Promise<Result<SandboxSession, ExecutionFailure>> {
    void this.sandbox;
    void this.limits;
    return err(failure("SANDBOX_UNAVAILABLE", "sessions are not built yet", NO_OUTPUT));
  }
}
