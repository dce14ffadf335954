import type { ExecutionRequest } from "../../domain/execution-request.js";
import type { SandboxOutcome, SandboxPort } from "../../domain/sandbox.port.js";

/* What the pool (prewarmed-pool.ts) needs of a backend: the backends implement it, the pool uses it. */

/** A sandbox started ahead of time, waiting for the one script it will ever run. */
export interface StartedSandbox {
  /** False once the sandbox died while waiting; it must then be discarded, not used. */
  readonly alive: boolean;
  /** Resolves once it can no longer be used (it died, or what it runs on was retired), if the backend can tell. */
  readonly gone?: Promise<void>;
  /** Whether this sandbox can serve the request (limits fixed at its start may not fit). */
  accepts(request: ExecutionRequest): boolean;
  run(request: ExecutionRequest): Promise<SandboxOutcome>;
  discard(): Promise<void>;
}

/** A backend that can start a sandbox (interpreter up, libraries loaded) before a request arrives. */
export interface PrestartableSandbox extends SandboxPort {
  prestart(): Promise<StartedSandbox>;
}
