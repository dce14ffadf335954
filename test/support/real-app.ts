import { pino } from "pino";
import type { SandboxPort } from "../../domain/sandbox.port.js";
import { composeApp } from "../../src/compose.js";
import { type Config, loadConfig } from "../../src/config.js";
import { harnessRuntime, projectRoot } from "../../src/project-paths.js";
import { subprocessSandbox } from "../../src/sandbox-factory.js";
import { type Listening, listen } from "./listening.js";
import { capturingLogger } from "./observing.js";
import { scaled } from "./slowdown.js";

export const silentLogger = pino({ level: "silent" });

/**
 * A configuration as the server would read it from these variables (defaults for the rest;
 * the default time limit scaled by TEST_SLOWDOWN, see slowed()).
 */
export const testConfig = (env: Record<string, string> = {}): Config => loadConfig({ EXECUTION_TIMEOUT_MS: slowed(loadConfig({}).executionTimeoutMs), ...env });

export const runtime = () => harnessRuntime(projectRoot(), undefined);

export const realSubprocessSandbox = (config: Config = testConfig()) => subprocessSandbox(config, runtime(), silentLogger);

/** The real HTTP app over a real sandbox; requests go through `app.request()`, no socket. */
export async function appOver(sandbox: SandboxPort, config: Config = testConfig()) {
  const { app } = await composeApp(config, sandbox, { python: "test", packages: {} }, silentLogger);
  return app;
}

/** An app served on a loopback port (serveApp), with what a test checks or closes of it. */
export interface Served {
  readonly listening: Listening;
  readonly sandbox: SandboxPort;
  /** The server log from info up. */
  readonly logs: ReturnType<typeof capturingLogger>;
  readonly metrics: () => Promise<string>;
  /** Stops listening, then closes the sandbox. */
  readonly close: () => Promise<void>;
}

/**
 * The real app over a real subprocess sandbox of its own, configured by `env`, served on a free
 * loopback port for clients that need real HTTP (a browser, an MCP client). The test closes it.
 */
export async function serveApp(env: Record<string, string> = {}): Promise<Served> {
  const config = testConfig(env);
  const sandbox = realSubprocessSandbox(config);
  const logs = capturingLogger("info");
  const { app, metrics } = await composeApp(config, sandbox, { python: "test", packages: {} }, logs.logger);
  const listening = await listen(app);
  const close = async () => {
    await listening.close();
    await sandbox.close();
  };
  return { listening, sandbox, logs, metrics: () => metrics.render(), close };
}

/**
 * A short time limit a test sets (in ms, as the variable's text), scaled by TEST_SLOWDOWN (see
 * slowdown()). The limit still has to stop the script; it must only not fire before the script
 * has reached what the test is about.
 */
export const slowed = (ms: number): string => String(scaled(ms));
