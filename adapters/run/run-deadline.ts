import type { ExecutionRequest } from "../../domain/execution-request.js";

/** What of a request says when its run must end. */
export type RunDeadline = Pick<ExecutionRequest, "timeoutMs" | "signal">;

/**
 * Calls `stop` once, when the run is due to end: at its time limit, or as soon as its request's
 * signal says the client has gone. Returns what to call when the run ends first.
 */
export function atDeadline({ timeoutMs, signal }: RunDeadline, stop: () => void): () => void {
  const end = () => {
    clear();
    stop();
  };
  // An aborted signal fires no event: the run is stopped as soon as it has begun.
  const timer = setTimeout(end, signal?.aborted ? 0 : timeoutMs);
  signal?.addEventListener("abort", end, { once: true });
  const clear = () => {
    clearTimeout(timer);
    signal?.removeEventListener("abort", end);
  };
  return clear;
}
