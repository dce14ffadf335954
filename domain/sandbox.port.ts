import type { ExecutionRequest } from "./execution-request.js";
import type { ExecutionFailure, ExecutionSuccess } from "./execution-result.js";
import type { Result } from "./result.js";

export type SandboxOutcome = Result<ExecutionSuccess, ExecutionFailure>;

/** Runs one script in a fresh sandbox. Each backend (nsjail, subprocess, a pool) is an adapter. */
export interface SandboxPort {
  /** The backend that really runs the script, for operators to see. */
  readonly backend: string;
  /** What this backend isolates a script from, in a sentence, for operators to see. */
  readonly isolation: string;
  /** Sandboxes started ahead and waiting for a script, for a backend that starts them ahead. */
  readonly readyCount?: number;
  /** Runs the script once; never throws for anything the script does. */
  run(request: ExecutionRequest): Promise<SandboxOutcome>;
  /** Releases whatever the backend holds (pre-started sandboxes, temp dirs) and kills runs still in flight. */
  close(): Promise<void>;
}
