import { constants } from "node:os";
import type { HarnessReport, ProcessEnding } from "../python/harness-protocol.js";
import type { SupervisorReport } from "./run-channel.js";

/** What the server saw of one run forked by the fork server. */
export interface ZygoteRunObservation {
  readonly supervisor: SupervisorReport;
  readonly report: HarnessReport;
  readonly timedOut: boolean;
  /** The run's cgroup counted an OOM kill. */
  readonly oomKilled: boolean;
  /** The fork server itself was gone when the run's supervisor went silent. */
  readonly forkServerLost: boolean;
}

export type ZygoteEnding = ProcessEnding | { readonly failed: string };

const SIGNAL_NAMES = new Map(Object.entries(constants.signals).map(([name, number]) => [number as number, name]));

/**
 * How the run ended, or why the sandbox failed it. The supervisor reports the run's exit
 * status once every process of the run is gone; when it went silent instead, it was killed,
 * by the kernel for memory (its run with it) or with its fork server.
 */
export function zygoteEnding(observation: ZygoteRunObservation): ZygoteEnding {
  const { supervisor, report, timedOut, oomKilled } = observation;
  switch (supervisor.kind) {
    case "setup-failed":
      return { failed: `the run's sandbox could not be set up: ${supervisor.message}` };
    case "lost":
      if (oomKilled) return { report, exitCode: null, signal: "SIGKILL", timedOut, memoryLimitHit: true };
      return { failed: observation.forkServerLost ? "the fork server stopped while the script ran" : "the run's supervisor was killed" };
    case "signalled": {
      const signal = SIGNAL_NAMES.get(supervisor.signal) ?? `signal ${supervisor.signal}`;
      // The script runs as PID 1 of its pid namespace, so nothing in the run can SIGKILL it, and
      // the supervisor does only at the server's time limit: a SIGKILL that is not the OOM
      // killer's is the hard RLIMIT_CPU, after a SIGXCPU the script ignored.
      const cpuLimitHit = signal === "SIGKILL" && !oomKilled && !timedOut;
      return { report, exitCode: null, signal: cpuLimitHit ? "SIGXCPU" : signal, timedOut, memoryLimitHit: oomKilled };
    }
    case "exited":
      return { report, exitCode: supervisor.exitCode, signal: null, timedOut, memoryLimitHit: oomKilled };
  }
}
