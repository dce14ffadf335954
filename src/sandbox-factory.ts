import { getuid } from "node:process";
import type { Logger } from "pino";
import { availableParallelism } from "node:os";
import type { PrestartableSandbox, SandboxPort } from "../domain/sandbox.port.js";
import { PrewarmedPool } from "../adapters/pool/prewarmed-pool.js";
import type { HarnessRuntime } from "../adapters/python/harness-runtime.js";
import { SubprocessSandbox } from "../adapters/subprocess/subprocess-sandbox.js";
import type { Config } from "./config.js";

/** Versions the live sandbox reports from inside itself; also proves it can run a script. */
export interface RuntimeInfo {
  readonly python: string;
  readonly packages: Record<string, string>;
}

const PROBE_SCRIPT = `import sys
import numpy
import pandas

def main():
    return {"python": sys.version.split()[0], "packages": {"numpy": numpy.__version__, "pandas": pandas.__version__}}
`;

export class SandboxStartupError extends Error {}

/** Runs one trivial script through the sandbox; a backend that cannot do that is not usable. */
export async function probe(sandbox: SandboxPort, config: Config): Promise<RuntimeInfo> {
  const outcome = await sandbox.run({ script: PROBE_SCRIPT, timeoutMs: Math.max(config.executionTimeoutMs, 30_000), memoryMb: config.memoryLimitMb });
  if (!outcome.ok) {
    const { code, message, output } = outcome.error;
    throw new SandboxStartupError(`${code}: ${message}${output.stderr ? `\n${output.stderr}` : ""}`);
  }
  return JSON.parse(outcome.value.resultJson) as RuntimeInfo;
}

export function subprocessSandbox(config: Config, runtime: HarnessRuntime, logger: Logger): SubprocessSandbox {
  const root = getuid?.() === 0;
  if (!root) {
    logger.warn(
      "not running as root: scripts run under the server's own uid, without RLIMIT_NPROC, and a child that calls setsid() can outlive its run",
    );
  }
  return new SubprocessSandbox({
    runtime,
    maxOutputBytes: config.maxOutputBytes,
    maxResultBytes: config.maxResultBytes,
    dedicatedUids: root,
    serverEnv: process.env,
  });
}

export interface LiveSandbox {
  readonly sandbox: SandboxPort;
  readonly info: RuntimeInfo;
}

/** Builds the configured backend and proves it works; `auto` prefers nsjail and falls back. */
export async function startSandbox(config: Config, runtime: HarnessRuntime, logger: Logger): Promise<LiveSandbox> {
  const backend = subprocessSandbox(config, runtime, logger);
  logger.warn("the subprocess backend is not a security boundary: use SANDBOX_BACKEND=nsjail in production");
  const info = await probe(backend, config);
  return { sandbox: pooled(backend, config, logger), info };
}

/** Wraps a backend in a pool of pre-started sandboxes unless POOL_SIZE is 0. */
export function pooled(backend: PrestartableSandbox, config: Config, logger: Logger): SandboxPort {
  if (config.poolSize === 0) return backend;
  return new PrewarmedPool(backend, {
    size: config.poolSize,
    cpuSlots: availableParallelism(),
    onError: (error) => logger.error({ err: error }, "could not pre-start a sandbox"),
  });
}
