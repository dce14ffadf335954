import type { Logger } from "pino";
import { AdmissionGate } from "../domain/admission.js";
import { ExecuteScript } from "../domain/execute-script.use-case.js";
import type { SandboxPort } from "../domain/sandbox.port.js";
import type { Config } from "./config.js";
import { createApp } from "./http/app.js";
import { loadSwaggerAssets } from "./http/swagger-assets.js";
import type { RuntimeInfo } from "./sandbox-factory.js";

const ISOLATION: Record<string, string> = {
  nsjail: "nsjail: user, mount, pid, net, ipc, uts and cgroup namespaces; seccomp; cgroup memory and pids limits",
  subprocess: "subprocess: rlimits and a scrubbed environment only; not a security boundary",
};

/** Wires the use case, admission control and HTTP app around a live sandbox. */
export async function composeApp(config: Config, sandbox: SandboxPort, info: RuntimeInfo, logger: Logger) {
  const gate = new AdmissionGate({ maxConcurrent: config.maxConcurrency, maxQueued: config.maxQueue, maxWaitMs: config.executionTimeoutMs });
  const useCase = new ExecuteScript(sandbox, gate, 1);
  const app = createApp({
    execute: (request) => useCase.execute(request),
    health: () => ({ status: "ok", backend: sandbox.backend, isolation: ISOLATION[sandbox.backend] ?? sandbox.backend, ...info }),
    limits: { maxTimeoutMs: config.executionTimeoutMs, maxMemoryMb: config.memoryLimitMb, maxScriptBytes: config.maxScriptBytes },
    swaggerAssets: await loadSwaggerAssets(),
    onInternalError: (error) => logger.error({ err: error }, "internal error"),
  });
  return { app, gate };
}
