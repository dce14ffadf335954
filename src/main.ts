import { serve } from "@hono/node-server";
import { pino } from "pino";
import { AdmissionGate } from "../domain/admission.js";
import { ExecuteScript } from "../domain/execute-script.use-case.js";
import { ConfigError, loadConfig } from "./config.js";
import { createApp } from "./http/app.js";
import { loadSwaggerAssets } from "./http/swagger-assets.js";
import { harnessRuntime, projectRoot } from "./project-paths.js";
import { startSandbox } from "./sandbox-factory.js";

const ISOLATION: Record<string, string> = {
  nsjail: "nsjail: user, mount, pid, net, ipc, uts and cgroup namespaces; seccomp; cgroup memory and pids limits",
  subprocess: "subprocess: rlimits and a scrubbed environment only; not a security boundary",
};

async function main(): Promise<void> {
  const logger = pino({ base: undefined });
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      logger.fatal({ variable: error.variable }, error.message);
      process.exit(1);
    }
    throw error;
  }
  const runtime = harnessRuntime(projectRoot(), config.pythonBin);
  const { sandbox, info } = await startSandbox(config, runtime, logger);
  const gate = new AdmissionGate({ maxConcurrent: config.maxConcurrency, maxQueued: config.maxQueue, maxWaitMs: config.executionTimeoutMs });
  const useCase = new ExecuteScript(sandbox, gate, 1);
  const app = createApp({
    execute: (request) => useCase.execute(request),
    health: () => ({ status: "ok", backend: sandbox.backend, isolation: ISOLATION[sandbox.backend] ?? sandbox.backend, ...info }),
    limits: { maxTimeoutMs: config.executionTimeoutMs, maxMemoryMb: config.memoryLimitMb, maxScriptBytes: config.maxScriptBytes },
    swaggerAssets: await loadSwaggerAssets(),
    onInternalError: (error) => logger.error({ err: error }, "internal error"),
  });
  serve({ fetch: app.fetch, port: config.port, hostname: config.host }, (address) => {
    logger.info({ backend: sandbox.backend, port: address.port, host: config.host, python: info.python }, "listening");
  });
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
