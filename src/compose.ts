import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import { HarnessSessions } from "../adapters/session/harness-sessions.js";
import { AdmissionGate } from "../domain/admission.js";
import { ExecuteScript } from "../domain/execute-script.use-case.js";
import type { SandboxPort } from "../domain/sandbox.port.js";
import { Sessions } from "../domain/sessions.use-case.js";
import type { Config } from "./config.js";
import { createApp } from "./http/app.js";
import { IdempotencyStore } from "./http/idempotency-store.js";
import { loadPlaygroundAssets } from "./http/playground.js";
import { loadSwaggerAssets } from "./http/swagger-assets.js";
import { ServiceMetrics } from "./observability/metrics.js";
import { observeExecutions } from "./observability/observe-executions.js";
import { observeIdempotentRequests } from "./observability/observe-idempotent-requests.js";
import { observeSessions, onSessionEnded } from "./observability/observe-sessions.js";
import { opsLogging } from "./observability/ops-logging.js";
import { playgroundBundleDir, projectRoot } from "./project-paths.js";
import { artifactLimitsOf, type RuntimeInfo } from "./sandbox-factory.js";
import { Drain } from "./shutdown/drain.js";

/** What a client refused for load (BUSY) or for a shutdown is told to wait before it retries. */
const RETRY_AFTER_SECONDS = 1;

/** Bytes of a session id: 128 random bits, 22 characters of base64url. */
const SESSION_ID_BYTES = 16;

export const newSessionId = (): string => randomBytes(SESSION_ID_BYTES).toString("base64url");

/** Wires the use cases (runs and sessions), admission control and HTTP app around a live sandbox. */
export async function composeApp(config: Config, sandbox: SandboxPort, info: RuntimeInfo, logger: Logger) {
  const gate = new AdmissionGate({ maxConcurrent: config.maxConcurrency, maxQueued: config.maxQueue, maxWaitMs: config.maxQueueWaitMs });
  const idempotency = new IdempotencyStore(
    { windowMs: config.idempotencyWindowMs, maxKeys: config.idempotencyMaxKeys, maxBytes: config.idempotencyMaxBytes },
    { onForgotten: () => metrics.recordIdempotencyKeyForgotten() },
  );
  const metrics = new ServiceMetrics({
    running: () => gate.running,
    queued: () => gate.queued,
    idempotency,
    ...(config.poolSize > 0 && sandbox.readyCount !== undefined ? { poolReady: () => sandbox.readyCount } : {}),
    ...(config.maxSessions > 0 ? { sessionsOpen: (): number => sessions.count } : {}),
  });
  const drain = new Drain(RETRY_AFTER_SECONDS);
  const useCase = new ExecuteScript(drain.guardSandbox(sandbox), gate, RETRY_AFTER_SECONDS, (error) =>
    logger.error({ err: error }, "internal error in the sandbox"),
  );
  // A session's cell takes a slot of the same gate as a run; an idle session holds none.
  const sessions = new Sessions({
    sandbox: new HarnessSessions(sandbox, {
      maxOutputBytes: config.maxOutputBytes,
      maxResultBytes: config.maxResultBytes,
      artifactLimits: artifactLimitsOf(config),
    }),
    gate,
    limits: { maxSessions: config.maxSessions, maxIdleMs: config.sessionMaxIdleMs, maxAgeMs: config.sessionMaxAgeMs },
    retryAfterSeconds: RETRY_AFTER_SECONDS,
    newId: newSessionId,
    onEnded: onSessionEnded({ logger, metrics }),
    onInternalError: (error) => logger.error({ err: error }, "internal error in a session"),
  });
  const app = createApp({
    execute: observeExecutions(
      drain.guard((request) => useCase.execute(request)),
      { backend: sandbox.backend, logger, metrics },
    ),
    apiKeys: config.apiKeys,
    idempotency,
    onIdempotentRequest: observeIdempotentRequests({ logger, metrics }),
    metrics,
    ...opsLogging(logger, config),
    sessions: {
      api: observeSessions(drain.guardSessions(sessions), metrics),
      maxIdleMs: config.sessionMaxIdleMs,
      maxAgeMs: config.sessionMaxAgeMs,
      maxSessions: config.maxSessions,
    },
    health: () => ({
      status: "ok",
      backend: sandbox.backend,
      isolation: sandbox.isolation,
      ...info,
      sessions: { open: sessions.count, max: config.maxSessions },
    }),
    limits: {
      maxTimeoutMs: config.executionTimeoutMs,
      maxMemoryMb: config.memoryLimitMb,
      maxScriptBytes: config.maxScriptBytes,
      maxInputFiles: config.maxInputFiles,
      maxInputFilesBytes: config.maxInputFilesBytes,
    },
    swaggerAssets: await loadSwaggerAssets(),
    playgroundAssets: await loadPlaygroundAssets(playgroundBundleDir(projectRoot())),
    onInternalError: (error, requestId) => logger.error({ err: error, requestId }, "internal error"),
  });
  return { app, gate, metrics, drain, sessions };
}
