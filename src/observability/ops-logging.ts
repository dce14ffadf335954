import type { Logger } from "pino";
import type { AppDeps } from "../http/app.js";

/** Paths polled by probes and scrapers: their requests are logged at debug, not info. */
const QUIET_PATHS = new Set(["/health", "/metrics"]);

/**
 * The app's access log and auth log, and one startup line saying whether API keys are
 * required. Only ids, methods, paths, statuses and durations: no body, no header value.
 */
export function opsLogging(logger: Logger, config: { readonly apiKeys: readonly string[] }): Pick<AppDeps, "onRequest" | "onUnauthorized"> {
  if (config.apiKeys.length === 0) {
    logger.warn({ auth: "off" }, "API_KEYS is not set: /execute, /sessions, /mcp and /metrics are open to anyone who can reach the server");
  } else {
    logger.info({ auth: "bearer", keys: config.apiKeys.length }, "API key auth is on for /execute, /sessions, /mcp and /metrics");
  }
  return {
    onRequest: (entry) => {
      if (QUIET_PATHS.has(entry.path) && entry.status < 400) logger.debug(entry, "request");
      else logger.info(entry, "request");
    },
    onUnauthorized: (event) => logger.warn(event, "unauthorized request"),
  };
}
