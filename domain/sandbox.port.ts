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
  /** Runs the script once; never throws for anything the script does. */
  run(request: ExecutionRequest): Promise<SandboxOutcome>;
  /** Releases whatever the backend holds (pre-started sandboxes, temp dirs) and kills runs still in flight. */
  close(): Promise<void>;
}

/** A sandbox started ahead of time, waiting for the one script it will ever run. */
export interface StartedSandbox {
  /** False once the sandbox died while waiting; it must then be discarded, not used. */
  readonly alive: boolean;
  /** Whether this sandbox can serve the request (limits fixed at its start may not fit). */
  accepts(request: ExecutionRequest): boolean;
  run(request: ExecutionRequest): Promise<SandboxOutcome>;
  discard(): Promise<void>;
}

/** A backend that can start a sandbox (interpreter up, libraries loaded) before a request arrives. */
export interface PrestartableSandbox extends SandboxPort {
  prestart(): Promise<StartedSandbox>;
}
