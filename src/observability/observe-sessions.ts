import type { Logger } from "pino";
import type { EndedSession, SessionEndReason } from "../../domain/sessions.use-case.js";
import type { SessionsApi } from "../http/sessions.js";
import { outcomeCode } from "./execution-log.js";
import type { ServiceMetrics } from "./metrics.js";

type SessionMetrics = Pick<ServiceMetrics, "recordSessionStart" | "recordSessionCell">;

/** Counts each session started (or refused) and each cell run (or refused), by outcome code. */
export function observeSessions(sessions: SessionsApi, metrics: SessionMetrics): SessionsApi {
  return {
    create: async (owner, request, signal) => {
      const created = await sessions.create(owner, request, signal);
      metrics.recordSessionStart(created.ok ? "OK" : created.error.code);
      return created;
    },
    view: (owner, id) => sessions.view(owner, id),
    execute: async (owner, id, cell, signal) => {
      const outcome = await sessions.execute(owner, id, cell, signal);
      metrics.recordSessionCell(outcomeCode(outcome));
      return outcome;
    },
    delete: (owner, id) => sessions.delete(owner, id),
  };
}

/**
 * What Sessions calls when a session ends: the metric, and one log line with the reason, its
 * cells and age (never its id or owner: with API_KEYS unset the id is all that guards a session).
 * Ends of its own doing are info; a sandbox that ended between cells is a warning.
 */
export function onSessionEnded(deps: { readonly logger: Logger; readonly metrics: Pick<ServiceMetrics, "recordSessionEnded"> }) {
  return (reason: SessionEndReason, ended: EndedSession): void => {
    deps.metrics.recordSessionEnded(reason);
    const entry = { reason, ...ended };
    if (reason === "process") deps.logger.warn(entry, "session ended");
    else deps.logger.info(entry, "session ended");
  };
}
