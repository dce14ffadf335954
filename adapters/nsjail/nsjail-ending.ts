import type { ProcessEnding } from "../python/harness-outcome.js";
import type { HarnessReport } from "../python/harness-protocol.js";

/** What nsjail's exit status and its own log (never shown to clients) say about a run. */
export interface NsjailObservation {
  readonly report: HarnessReport;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly timedOut: boolean;
  readonly log: string;
  /** The kernel's OOM killer ended a process of the run's cgroup; undefined without cgroups. */
  readonly oomKilled: boolean | undefined;
  /** Which limits of the run's cgroup were hit; undefined without cgroups. */
  readonly limitsHit: { readonly memory: boolean; readonly processes: boolean } | undefined;
}

const SIGNAL_NAMES: Record<number, string> = {
  6: "SIGABRT",
  7: "SIGBUS",
  9: "SIGKILL",
  11: "SIGSEGV",
  24: "SIGXCPU",
  25: "SIGXFSZ",
};

/**
 * nsjail exits with the child's status, or 128+signal when the child was killed, and logs
 * "exited with status" or "terminated with signal" whenever the child really ran. Without
 * such a line and without a report, nsjail itself failed: the sandbox is unavailable.
 * So did it when it says it could not launch the child: a failure while setting up the jail
 * (a mount, the uid map, the cgroups) happens in the child before the interpreter starts,
 * and nsjail then still logs that half-started child's end ("exited with status: 255" or
 * "terminated with signal: SIGKILL", whichever comes first), which must not pass for the
 * script's own ending.
 */
export function nsjailEnding(observation: NsjailObservation): ProcessEnding | "sandbox-failed" {
  const { report, log, timedOut } = observation;
  if (/Couldn't launch the child process/.test(log)) return "sandbox-failed";
  const childRan = /exited with status|terminated with signal/.test(log);
  if (report.kind === "none" && !childRan && !timedOut) return "sandbox-failed";
  const killedBy = /terminated with signal: (SIG[A-Z0-9]+)/.exec(log)?.[1];
  // nsjail's exit status is 128+n both for a child killed by signal n and for one that exited
  // with 128+n (os._exit(137)); only its log tells them apart, so the status counts only without it.
  const exitedItself = /exited with status/.test(log);
  const signal =
    killedBy ?? (!exitedItself && observation.exitCode !== null && observation.exitCode > 128 ? (SIGNAL_NAMES[observation.exitCode - 128] ?? null) : null);
  const hitWallLimit = /run time >= time limit/.test(log);
  const memoryLimitHit = observation.oomKilled === true;
  // The interpreter is PID 1 of its pid namespace, so nothing in the jail can SIGKILL it; our
  // own timeout and nsjail's time limit are told apart above. A SIGKILL that is not the OOM
  // killer's is therefore the hard RLIMIT_CPU, after a SIGXCPU the script ignored.
  const cpuLimitHit = signal === "SIGKILL" && !memoryLimitHit && !timedOut && !hitWallLimit;
  return {
    report,
    exitCode: signal ? null : observation.exitCode,
    signal: cpuLimitHit ? "SIGXCPU" : signal,
    timedOut: timedOut || hitWallLimit,
    memoryLimitHit,
    ...(observation.limitsHit === undefined ? {} : { limitsHit: observation.limitsHit }),
  };
}
