import { constants } from "node:os";
import type { LimitsHit } from "../cgroups/cgroup-slots.js";
import type { ProcessEnding } from "../python/harness-outcome.js";
import type { HarnessReport } from "../python/harness-protocol.js";
import type { RunSetup } from "./run-channel.js";
import type { RunExit } from "./zygote-process.js";

/** What the server saw of one run forked by the fork server. */
export interface ZygoteRunObservation {
  readonly setup: RunSetup;
  readonly exit: RunExit;
  readonly report: HarnessReport;
  readonly timedOut: boolean;
  /** The run's cgroup counted an OOM kill. */
  readonly oomKilled: boolean;
  /** Which of the run's cgroup limits something ran into (a refused fork, a charge over the limit). */
  readonly limitsHit: LimitsHit;
}

export type ZygoteEnding = ProcessEnding | { readonly failed: string };

const SIGNAL_NAMES = new Map(Object.entries(constants.signals).map(([name, number]) => [number as number, name]));

/**
 * How the run ended, or why the sandbox failed it: a set-up that did not finish, or a fork
 * server that could not tell how the run ended (it died, and the run with it).
 */
export function zygoteEnding(observation: ZygoteRunObservation): ZygoteEnding {
  const { setup, exit, report, timedOut, oomKilled, limitsHit } = observation;
  if (exit.kind === "lost") return { failed: exit.reason };
  // A run killed at its time limit during its set-up never said "ready": a timeout still.
  if ("failed" in setup && !timedOut) return { failed: `the run's sandbox could not be set up: ${setup.failed}` };
  if (exit.kind === "exited") return { report, exitCode: exit.exitCode, signal: null, timedOut, memoryLimitHit: oomKilled, limitsHit };
  const signal = SIGNAL_NAMES.get(exit.signal) ?? `signal ${exit.signal}`;
  // The script runs as PID 1 of its pid namespace, so nothing in the run can SIGKILL it, and the
  // server does only at the time limit: a SIGKILL that is not the OOM killer's is the hard
  // RLIMIT_CPU, after a SIGXCPU the script ignored.
  const cpuLimitHit = signal === "SIGKILL" && !oomKilled && !timedOut;
  return { report, exitCode: null, signal: cpuLimitHit ? "SIGXCPU" : signal, timedOut, memoryLimitHit: oomKilled, limitsHit };
}
