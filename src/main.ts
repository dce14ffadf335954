import type { Server } from "node:http";
import { serve } from "@hono/node-server";
import { pino } from "pino";
import { composeApp } from "./compose.js";
import { type Config, ConfigError, loadConfig } from "./config.js";
import { harnessRuntime, projectRoot } from "./project-paths.js";
import { startSandbox } from "./sandbox-factory.js";
import { InFlightRequests } from "./shutdown/in-flight-requests.js";
import { shutDownOnSignals } from "./shutdown/on-signals.js";

async function main(): Promise<void> {
  const logger = pino({ base: undefined });
  let config: Config;
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
  const { app, drain } = await composeApp(config, sandbox, info, logger);
  const server = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, (address) => {
    logger.info({ backend: sandbox.backend, port: address.port, host: config.host, python: info.python }, "listening");
  }) as Server;
  const inFlight = new InFlightRequests(server);
  shutDownOnSignals({ server, inFlight, drain, sandbox, graceMs: config.shutdownGraceMs, logger });
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
