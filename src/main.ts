import { pino } from "pino";
import { composeApp } from "./compose.js";
import { type Config, ConfigError, loadConfig } from "./config.js";
import { serveApp } from "./http/server.js";
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
  const { app, drain, sessions } = await composeApp(config, sandbox, info, logger);
  const server = serveApp(app.fetch, { port: config.port, host: config.host }, config, (address) => {
    logger.info({ backend: sandbox.backend, port: address.port, host: config.host, python: info.python }, "listening");
  });
  let lastRefusalLogged = 0;
  server.on("drop", () => {
    // A line a minute at most: a client flooding connections must not flood the log as well.
    if (Date.now() - lastRefusalLogged < 60_000) return;
    lastRefusalLogged = Date.now();
    logger.warn({ maxConnections: config.maxConnections }, "MAX_CONNECTIONS reached: new connections are closed until open ones end");
  });
  const inFlight = new InFlightRequests(server);
  shutDownOnSignals({ server, inFlight, drain, sandbox, sessions, graceMs: config.shutdownGraceMs, logger });
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
