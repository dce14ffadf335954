import type { ExecutionRequest } from "../../domain/execution-request.js";
import { failure } from "../../domain/execution-result.js";
import { err } from "../../domain/result.js";
import type { PrestartableSandbox, SandboxOutcome, StartedSandbox } from "../../domain/sandbox.port.js";
import { HarnessProcess, RESULT_FD, SANDBOX_LOG_FD, type HarnessRun } from "../python/harness-process.js";
import { cpuSecondsFor, maxReportBytes, outcomeOf, type ArtifactLimits } from "../python/harness-protocol.js";
import type { HarnessRuntime } from "../python/harness-runtime.js";
import { SANDBOX_UID_COUNT, SandboxUids } from "../python/sandbox-uids.js";
import { PYTHON_FLAGS, scriptEnvironment } from "../python/script-environment.js";
import { outputOf, StartedHarness } from "../python/started-harness.js";
import { removeStaleJailCgroups } from "./cgroup.js";
import { buildNsjailArgv, JAIL_CACHE_DIR, JAIL_VENV_DIR, JAIL_WORK_DIR, type NsjailCgroupMode } from "./nsjail-argv.js";
import { nsjailEnding } from "./nsjail-ending.js";

export interface NsjailSandboxOptions {
  readonly runtime: HarnessRuntime;
  /** The nsjail executable itself (not the Python console-script wrapper). */
  readonly nsjailBin: string;
  readonly configPath: string;
  readonly cgroup: NsjailCgroupMode;
  readonly maxOutputBytes: number;
  readonly maxResultBytes: number;
  readonly artifactLimits: ArtifactLimits;
  /** What a pre-started jail imports before its script arrives. */
  readonly preloadModules: readonly string[];
  /** The memory limit pre-started jails are created with (the configured maximum). */
  readonly memoryLimitMb: number;
  /** The time limit pre-started jails are prepared for (the configured maximum). */
  readonly maxTimeoutMs: number;
  readonly serverEnv: Readonly<Record<string, string | undefined>>;
  /** First of the host uids jails are mapped to (SANDBOX_UID_COUNT of them). */
  readonly uidBase: number;
  /** nsjail's own log of a run that went wrong; for the server log, never for a response. */
  readonly onSandboxLog: (log: string, context: { code: string }) => void;
}

const MAX_PIDS = 64;
const TERM_GRACE_MS = 500;

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * One nsjail per run: every namespace, no network, read-only runtime, a capped tmpfs work dir,
 * seccomp, and cgroup memory and pids limits (policy in nsjail.cfg, paths passed as arguments).
 */
export class NsjailSandbox implements PrestartableSandbox {
  readonly backend = "nsjail";
  readonly isolation: string;
  private readonly uids: SandboxUids;
  /** Every jail started and not yet finished: running a script or waiting for one. */
  private readonly live = new Set<HarnessProcess>();

  constructor(private readonly options: NsjailSandboxOptions) {
    this.uids = new SandboxUids(options.uidBase, SANDBOX_UID_COUNT);
    const limits =
      options.cgroup.version === "none"
        ? "memory and processes limited by rlimits only (no usable cgroups)"
        : `cgroup ${options.cgroup.version} memory and pids limits`;
    this.isolation = `user, mount, pid, net, ipc, uts and cgroup namespaces; no network; seccomp; ${limits}`;
  }

  async run(request: ExecutionRequest): Promise<SandboxOutcome> {
    return this.start({ preload: false, memoryMb: request.memoryMb, timeoutMs: request.timeoutMs }).run(request);
  }

  async prestart(): Promise<StartedSandbox> {
    const jail = this.start({ preload: true, memoryMb: this.options.memoryLimitMb, timeoutMs: this.options.maxTimeoutMs });
    await jail.ready();
    return jail;
  }

  /** Kills every jail still running or waiting (a shutdown past its grace period). */
  async close(): Promise<void> {
    await Promise.all([...this.live].map((harness) => harness.discard()));
  }

  private start(jail: { preload: boolean; memoryMb: number; timeoutMs: number }): StartedHarness {
    const { runtime, cgroup } = this.options;
    const uid = this.uids.acquire();
    const args = buildNsjailArgv({
      configPath: this.options.configPath,
      pythonExecutable: runtime.pythonBin,
      venvDir: runtime.venvDir,
      harnessSource: runtime.harnessSource,
      pythonFlags: PYTHON_FLAGS,
      env: scriptEnvironment({
        workDir: JAIL_WORK_DIR,
        cacheDir: JAIL_CACHE_DIR,
        pathDirs: [`${JAIL_VENV_DIR}/bin`],
        serverEnv: this.options.serverEnv,
      }),
      timeoutMs: jail.timeoutMs,
      memoryMb: jail.memoryMb,
      maxPids: MAX_PIDS,
      cgroup,
      outsideUid: uid,
      logFd: SANDBOX_LOG_FD,
      passFds: [RESULT_FD],
      // A waiting jail has no deadline of its own: the server's timer starts at the hand-over.
      ...(jail.preload ? { timeLimitSeconds: 0 } : {}),
      harnessArgs: ["--result-fd", String(RESULT_FD), ...(jail.preload ? ["--preload", this.options.preloadModules.join(",")] : [])],
    });
    const harness = HarnessProcess.start({
      command: this.options.nsjailBin,
      args,
      env: {},
      cwd: "/",
      maxOutputBytes: this.options.maxOutputBytes,
      maxReportBytes: maxReportBytes(this.options.maxResultBytes, this.options.artifactLimits),
      preload: jail.preload,
      collectSandboxLog: true,
      killAll: (pid) => this.stop(pid),
    });
    this.live.add(harness);
    return new StartedHarness(harness, {
      memoryMb: jail.memoryMb,
      maxResultBytes: this.options.maxResultBytes,
      artifactLimits: this.options.artifactLimits,
      // The cgroup limits memory and processes; the harness adds the CPU-time limit.
      limits: (request) => ({ cpuSeconds: cpuSecondsFor(request.timeoutMs) }),
      outcome: (run, request) => jailOutcome(run, request, this.options),
      cleanUp: () => {
        this.live.delete(harness);
        this.uids.release(uid);
      },
    });
  }

  /** SIGTERM lets nsjail kill its jail and remove its cgroups; SIGKILL only if it does not. */
  private async stop(pid: number): Promise<void> {
    if (!isAlive(pid)) return;
    process.kill(pid, "SIGTERM");
    for (let waited = 0; waited < TERM_GRACE_MS && isAlive(pid); waited += 20) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    if (isAlive(pid)) {
      process.kill(pid, "SIGKILL");
      removeStaleJailCgroups(this.options.cgroup);
    }
  }
}

/** What a jail's run amounted to, from its report, its exit and nsjail's own log. */
function jailOutcome(run: HarnessRun, request: ExecutionRequest, options: NsjailSandboxOptions): SandboxOutcome {
  const ending = run.startError
    ? "sandbox-failed"
    : nsjailEnding({ report: run.report, exitCode: run.exitCode, signal: run.signal, timedOut: run.timedOut, log: run.sandboxLog });
  if (ending === "sandbox-failed") {
    options.onSandboxLog(run.startError ?? run.sandboxLog, { code: "SANDBOX_UNAVAILABLE" });
    return err(failure("SANDBOX_UNAVAILABLE", "The sandbox could not be started", outputOf(run)));
  }
  const outcome = outcomeOf(ending, outputOf(run), request, run.durationMs);
  if (!outcome.ok && (outcome.error.code === "RESOURCE_LIMIT_EXCEEDED" || outcome.error.code === "MEMORY_LIMIT_EXCEEDED")) {
    options.onSandboxLog(run.sandboxLog, { code: outcome.error.code });
  }
  return outcome;
}
