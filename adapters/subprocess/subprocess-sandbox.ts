import { chmod, chown, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ExecutionRequest } from "../../domain/execution-request.js";
import type { SandboxOutcome } from "../../domain/sandbox.port.js";
import type { PrestartableSandbox, StartedSandbox } from "../pool/prestartable-sandbox.js";
import { outcomeOf } from "../python/harness-outcome.js";
import { harnessBootstrap } from "../python/harness-package.js";
import { HarnessProcess } from "../python/harness-process.js";
import { type ArtifactLimits, type HarnessLimits, maxReportBytes } from "../python/harness-protocol.js";
import type { HarnessRuntime } from "../python/harness-runtime.js";
import { RESULT_FD } from "../python/protocol-facts.js";
import { PYTHON_FLAGS, scriptEnvironment } from "../python/script-environment.js";
import { notStarted, outputOf, StartedHarness } from "../python/started-harness.js";
import { RunLeases } from "../run/run-leases.js";
import { RunLifecycle } from "../run/run-lifecycle.js";
import { cpuSecondsFor, MAX_FILE_BYTES, MAX_OPEN_FILES, MAX_PROCESSES } from "../run/run-limits.js";
import { SANDBOX_UID_COUNT, SandboxUids } from "../run/sandbox-uids.js";
import { killEverythingOf, killProcessGroup, removeFilesOwnedBy } from "./process-reaper.js";

export interface SubprocessSandboxOptions {
  readonly runtime: HarnessRuntime;
  readonly maxOutputBytes: number;
  readonly maxResultBytes: number;
  readonly artifactLimits: ArtifactLimits;
  /** What a pre-started sandbox imports before its script arrives. */
  readonly preloadModules: readonly string[];
  /** The memory limit pre-started sandboxes are meant for (the configured maximum). */
  readonly memoryLimitMb: number;
  /** Run scripts under dedicated unprivileged uids; needs root. */
  readonly dedicatedUids: boolean;
  /** First of the host uids runs are given (SANDBOX_UID_COUNT of them). */
  readonly uidBase: number;
  readonly serverEnv: Readonly<Record<string, string | undefined>>;
  /** How long after its time limit (or its end) a run's processes have to be gone before it is answered anyway (RunLifecycle). */
  readonly endGraceMs: number;
}

function subprocessLimits(request: ExecutionRequest, dedicatedUid: boolean): HarnessLimits {
  return {
    addressSpaceBytes: request.memoryMb * 1024 * 1024,
    cpuSeconds: cpuSecondsFor(request.timeoutMs),
    fileSizeBytes: MAX_FILE_BYTES,
    openFiles: MAX_OPEN_FILES,
    // RLIMIT_NPROC counts every process of the uid, so it is only meaningful on a uid of the run's own.
    ...(dedicatedUid ? { processes: MAX_PROCESSES } : {}),
  };
}

/**
 * A plain child process with rlimits, a fresh temp dir and a scrubbed environment.
 * Not a security boundary: it shares the kernel, filesystem and network with the server.
 */
export class SubprocessSandbox implements PrestartableSandbox {
  readonly backend = "subprocess";
  readonly isolation = "rlimits, a fresh temp dir and a scrubbed environment only: not a security boundary";
  private readonly leases: RunLeases;
  private readonly lifecycle: RunLifecycle;
  /** Every harness started and not yet cleaned up: running a script or waiting for one. */
  private readonly live = new Set<HarnessProcess>();

  constructor(private readonly options: SubprocessSandboxOptions) {
    // No cgroup slots: a run's processes are found by its uid (killEverythingOf).
    this.leases = new RunLeases({ uids: new SandboxUids(options.uidBase, SANDBOX_UID_COUNT), slots: undefined, uidsStayHeld: false, onStuck: () => undefined });
    this.lifecycle = new RunLifecycle({ leases: this.leases, endGraceMs: options.endGraceMs, onLog: () => undefined });
  }

  /** Starts a harness that waits for its script; `preload` imports the preload modules first. */
  async start(preload: boolean): Promise<StartedHarness> {
    const { runtime, dedicatedUids } = this.options;
    // The run's own directory, which only the server can change: the work dir and the cache
    // dir (see scriptEnvironment) inside it belong to the run's uid.
    const runDir = await mkdtemp(join(tmpdir(), "pyexec-"));
    const workDir = join(runDir, "work");
    const cacheDir = join(runDir, "cache");
    await chmod(runDir, 0o711);
    const lease = dedicatedUids ? await this.leases.lease({ memoryMb: this.options.memoryLimitMb, maxPids: MAX_PROCESSES, cpuCores: 1 }) : undefined;
    const uid = lease?.uid;
    for (const dir of [workDir, cacheDir]) {
      await mkdir(dir, { mode: 0o700 });
      if (uid !== undefined) await chown(dir, uid, uid);
    }
    const harness = HarnessProcess.start({
      command: runtime.pythonBin,
      args: [
        ...PYTHON_FLAGS,
        "-c",
        harnessBootstrap(runtime.harnessDir, "serve"),
        "--result-fd",
        String(RESULT_FD),
        ...(preload ? ["--preload", this.options.preloadModules.join(",")] : []),
      ],
      env: scriptEnvironment({ workDir, cacheDir, pathDirs: [join(runtime.venvDir, "bin")], serverEnv: this.options.serverEnv }),
      cwd: workDir,
      maxOutputBytes: this.options.maxOutputBytes,
      maxReportBytes: maxReportBytes(this.options.maxResultBytes, this.options.artifactLimits),
      maxResultBytes: this.options.maxResultBytes,
      preload,
      ...(uid === undefined ? { killAll: killProcessGroup } : { uid, gid: uid, killAll: (pid) => killEverythingOf(uid, pid) }),
    });
    this.live.add(harness);
    const cleanUp = async () => {
      this.live.delete(harness);
      await rm(runDir, { recursive: true, force: true });
      if (lease !== undefined) {
        await removeFilesOwnedBy(lease.uid);
        this.leases.release(lease);
      }
    };
    return new StartedHarness(harness, lease, {
      memoryMb: this.options.memoryLimitMb,
      maxResultBytes: this.options.maxResultBytes,
      artifactLimits: this.options.artifactLimits,
      lifecycle: this.lifecycle,
      limits: (request) => subprocessLimits(request, uid !== undefined),
      outcome: (run, _end, request) => (run.startError ? notStarted(run) : outcomeOf(run, outputOf(run), request, run.durationMs)),
      cleanUp,
    });
  }

  async run(request: ExecutionRequest): Promise<SandboxOutcome> {
    return (await this.start(false)).run(request);
  }

  async prestart(): Promise<StartedSandbox> {
    const started = await this.start(true);
    await started.ready();
    return started;
  }

  /** Kills every harness still running or waiting (a shutdown past its grace period), so none outlives the server. */
  async close(): Promise<void> {
    this.lifecycle.close();
    await Promise.allSettled([...this.live].map((harness) => harness.discard()));
    this.leases.close();
  }
}
