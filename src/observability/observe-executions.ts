import type { Logger } from "pino";
import type { ExecutionRequest } from "../../domain/execution-request.js";
import type { SandboxOutcome } from "../../domain/sandbox.port.js";
import { executionLogEntry, logExecution, outcomeCode } from "./execution-log.js";
import type { ServiceMetrics } from "./metrics.js";

/** What the HTTP layer knows about an execution request beyond its body. */
interface ExecutionContext {
  readonly requestId?: string;
}

export type Execute = (request: ExecutionRequest, context?: ExecutionContext) => Promise<SandboxOutcome>;

/** Wraps an execute function with the per-execution log line and the execution metrics. */
export function observeExecutions(execute: Execute, deps: { readonly backend: string; readonly logger: Logger; readonly metrics?: ServiceMetrics }): Execute {
  return async (request, context) => {
    const startedAt = performance.now();
    const outcome = await execute(request, context);
    const durationMs = Math.round(performance.now() - startedAt);
    deps.metrics?.recordExecution(outcomeCode(outcome), durationMs);
    logExecution(deps.logger, executionLogEntry({ requestId: context?.requestId, backend: deps.backend, request, outcome, durationMs }));
    return outcome;
  };
}
