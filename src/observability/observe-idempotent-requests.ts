import type { Logger } from "pino";
import type { IdempotentRequest } from "../http/idempotency.js";
import type { ServiceMetrics } from "./metrics.js";

/**
 * Counts every request sent with an Idempotency-Key by outcome, and logs each one that did not
 * run (a repeat, or a key sent with another body) with the id of the request that did; a request
 * that ran has its execution line already.
 */
export function observeIdempotentRequests(deps: { readonly logger: Logger; readonly metrics: ServiceMetrics }): (request: IdempotentRequest) => void {
  return (request) => {
    deps.metrics.recordIdempotentRequest(request.outcome);
    if (request.outcome !== "first") deps.logger.info(request, "idempotent request not run");
  };
}
