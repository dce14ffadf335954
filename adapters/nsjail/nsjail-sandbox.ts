import type { ExecutionRequest } from "../../domain/execution-request.js";
import type { SandboxOutcome } from "../../domain/sandbox.port.js";
import { cgroupSlots, ioLimitOf, joinSlotArgv } from "../cgroups/cgroup-slots.js";
import type { PrestartableSandbox, StartedSandbox } from "../pool/prestartable-sandbox.js";
import { outcomeOf } from "../python/harness-outcome.js";
import { type HarnessExit, HarnessProcess, type HarnessRun, SANDBOX_LOG_FD } from "../python/harness-process.js";
import { type ArtifactLimits, maxReportBytes } from "../python/harness-protocol.js";
import type { HarnessRuntime } from "../python/harness-runtime.js";
import { JAIL_WORK_DIR, RESULT_FD } from "../python/protocol-facts.js";
import { PYTHON_FLAGS, scriptEnvironment } from "../python/script-environment.js";
import { notStarted, outputOf, StartedHarness } from "../python/started-harness.js";
import { RunLeases } from "../run/run-leases.js";
import { type RunEnd, RunLifecycle } from "../run/run-lifecycle.js";
import { cpuSecondsFor, MAX_PROCESSES, MAX_PROCESSES_BACKSTOP } from "../run/run-limits.js";
import { SANDBOX_UID_COUNT, SandboxUids } from "../run/sandbox-uids.js";
import { buildNsjailArgv, JAIL_CACHE_DIR, JAIL_VENV_DIR, type NsjailCgroupMode } from "./nsjail-argv.js";
import { NSJAIL_TERM_GRACE_MS } from "./nsjail-binary.js";
import { nsjailEnding } from "./nsjail-ending.js";

export interface NsjailSandboxOptions {
  readonly runtime: HarnessRuntime;
  /** The nsjail executable itself (not the Python console-script wrapper). */
  readonly nsjailBin: string;
  readonly configPath: string;
  readonly cgroup: NsjailCgroupMode;
  /** Block devices ("major:minor") whose IO each jail is throttled on (blockDevicesOf). */
  readonly throttledDevices: readonly string[];
  /** Block IO per jail on those devices, in MiB/s; 0 for none. */
  readonly ioMbPerSec: number;
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
  /** How long after its time limit (or its end) a run's processes have to be gone before it is answered anyway (RunLifecycle). */
  readonly endGraceMs: number;
  /** nsjail's own log of a run that went wrong; for the server log, never for a response. */
  readonly onSandboxLog: (log: string, context: { code: string }) => void;
}

/** The environment of a jail's interpreter: the allowlist, with the jail's own dirs. */
export const jailEnvironment = (serverEnv: NsjailSandboxOptions["serverEnv"]): Record<string, string> =>
  scriptEnvironment({ workDir: JAIL_WORK_DIR, cacheDir: JAIL_CACHE_DIR, pathDirs: [`${JAIL_VENV_DIR}/bin`], serverEnv });

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
  private readonly leases: RunLeases;
  private readonly lifecycle: RunLifecycle;
  /** Every jail started and not yet finished: running a script or waiting for one. */
  private readonly live = new Set<HarnessProcess>();

  constructor(private readonly options: NsjailSandboxOptions) {
    const log = (message: string) => options.onSandboxLog(message, { code: "SANDBOX_UNAVAILABLE" });
    this.leases = new RunLeases({
      uids: new SandboxUids(options.uidBase, SANDBOX_UID_COUNT),
      slots: cgroupSlots(options.cgroup, options.ioMbPerSec > 0 ? options.throttledDevices : []),
      uidsStayHeld: false,
      onStuck: log,
    });
    this.lifecycle = new RunLifecycle({ leases: this.leases, endGraceMs: options.endGraceMs, onLog: log });
    const limits =
      options.cgroup.version === "none"
        ? "memory and processes limited by rlimits only (no usable cgroups)"
        : `cgroup ${options.cgroup.version} memory and pids limits`;
    this.isolation = `user, mount, pid, net, ipc, uts and cgroup namespaces; no network; seccomp; ${limits}`;
  }

  async run(request: ExecutionRequest): Promise<SandboxOutcome> {
    return (await this.start({ preload: false, memoryMb: request.memoryMb, timeoutMs: request.timeoutMs })).run(request);
  }

  async prestart(): Promise<StartedSandbox> {
    const jail = await this.start({ preload: true, memoryMb: this.options.memoryLimitMb, timeoutMs: this.options.maxTimeoutMs });
    await jail.ready();
    return jail;
  }

  /** Kills every jail still running or waiting (a shutdown past its grace period). */
  async close(): Promise<void> {
    this.lifecycle.close();
    await Promise.allSettled([...this.live].map((harness) => harness.discard()));
    this.leases.close();
  }

  private async start(jail: { preload: boolean; memoryMb: number; timeoutMs: number }): Promise<StartedHarness> {
    const { runtime } = this.options;
    const lease = await this.leases.lease({
      memoryMb: jail.memoryMb,
      // nsjail itself stays in the slot beside the jail's processes.
      maxPids: MAX_PROCESSES + 1,
      cpuCores: 1,
      ...ioLimitOf(this.options.ioMbPerSec),
    });
    const { slot } = lease;
    const args = buildNsjailArgv({
      configPath: this.options.configPath,
      pythonExecutable: runtime.pythonBin,
      venvDir: runtime.venvDir,
      harnessDir: runtime.harnessDir,
      pythonFlags: PYTHON_FLAGS,
      env: jailEnvironment(this.options.serverEnv),
      timeoutMs: jail.timeoutMs,
      ...(slot === undefined ? { addressSpaceLimitMb: jail.memoryMb } : {}),
      // With a slot, its pids.max (which counts refused forks) must be the limit a fork bomb meets.
      maxPids: slot === undefined ? MAX_PROCESSES : MAX_PROCESSES_BACKSTOP,
      outsideUid: lease.uid,
      logFd: SANDBOX_LOG_FD,
      passFds: [RESULT_FD],
      // A waiting jail has no deadline of its own: the server's timer starts at the hand-over.
      ...(jail.preload ? { timeLimitSeconds: 0 } : {}),
      harnessArgs: ["--result-fd", String(RESULT_FD), ...(jail.preload ? ["--preload", this.options.preloadModules.join(",")] : [])],
    });
    const command = slot === undefined ? { command: this.options.nsjailBin, args } : joinSlotArgv(slot.procsFiles, this.options.nsjailBin, args);
    const harness = HarnessProcess.start({
      ...command,
      env: {},
      cwd: "/",
      maxOutputBytes: this.options.maxOutputBytes,
      maxReportBytes: maxReportBytes(this.options.maxResultBytes, this.options.artifactLimits),
      maxResultBytes: this.options.maxResultBytes,
      preload: jail.preload,
      collectSandboxLog: true,
      // Once nsjail has exited its pid may be another process's: the slot is emptied instead.
      killAll: (pid) => (harness.exited ? Promise.resolve() : stopNsjail(pid)),
    });
    this.live.add(harness);
    return new StartedHarness(harness, lease, {
      memoryMb: jail.memoryMb,
      maxResultBytes: this.options.maxResultBytes,
      artifactLimits: this.options.artifactLimits,
      lifecycle: this.lifecycle,
      // The cgroup limits memory and processes; the harness adds the CPU-time limit.
      limits: (request) => ({ cpuSeconds: cpuSecondsFor(request.timeoutMs) }),
      outcome: (run, end, request) => jailOutcome(run, end, request, this.options),
      cleanUp: () => {
        this.live.delete(harness);
        this.leases.release(lease);
      },
    });
  }
}

/**
 * SIGTERM lets nsjail kill its jail; SIGKILL only if it does not. The jail's processes are the
 * slot's to empty (RunLifecycle); without a slot, nsjail's end ends its pid namespace.
 */
async function stopNsjail(pid: number): Promise<void> {
  if (!isAlive(pid)) return;
  process.kill(pid, "SIGTERM");
  for (let waited = 0; waited < NSJAIL_TERM_GRACE_MS && isAlive(pid); waited += 20) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  if (isAlive(pid)) process.kill(pid, "SIGKILL");
}

/** What a jail's run amounted to, from its report, its exit and nsjail's own log. */
function jailOutcome(run: HarnessRun, end: RunEnd<HarnessExit>, request: ExecutionRequest, options: NsjailSandboxOptions): SandboxOutcome {
  const ending = run.startError
    ? "sandbox-failed"
    : nsjailEnding({
        report: run.report,
        exitCode: run.exitCode,
        signal: run.signal,
        timedOut: run.timedOut,
        log: run.sandboxLog,
        oomKilled: end.oomKilled,
        limitsHit: end.limitsHit,
      });
  if (ending === "sandbox-failed") {
    options.onSandboxLog(run.startError ?? run.sandboxLog, { code: "SANDBOX_UNAVAILABLE" });
    return notStarted(run);
  }
  // A script's own failures are not the server's: nsjail's log of them would only fill the server log.
  return outcomeOf(ending, outputOf(run), request, run.durationMs);
}
