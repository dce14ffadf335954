import { constants } from "node:os";
import type { HarnessReport, ProcessEnding } from "../python/harness-protocol.js";
import type { SupervisorReport } from "./run-channel.js";

/** What the server saw of one run forked by the fork server. */
export interface ZygoteRunObservation {
  readonly supervisor: SupervisorReport;
  readonly report: HarnessReport;
  readonly timedOut: boolean;
  /** The run's cgroup counted an OOM kill; undefined where there is no cgroup to ask. */
  readonly oomKilled: boolean | undefined;
  /** The fork server itself was gone when the run's supervisor went silent. */
  readonly forkServerLost: boolean;
}

export type ZygoteEnding = ProcessEnding | { readonly failed: string };

const SIGNAL_NAMES = new Map(Object.entries(constants.signals).map(([name, number]) => [number as number, name]));

/**
 * How the run ended, or why the sandbox failed it. The supervisor reports the run's exit
 * status once every process of the run is gone. When it went silent instead, it was killed:
 * with its fork server (the sandbox failed), or by the kernel for memory, its run with it.
 */
export function zygoteEnding(observation: ZygoteRunObservation): ZygoteEnding {
  const { supervisor, report, timedOut, oomKilled } = observation;
  switch (supervisor.kind) {
    case "setup-failed":
      return { failed: `the run's sandbox could not be set up: ${supervisor.message}` };
    case "lost":
      if (observation.forkServerLost) return { failed: "the fork server stopped while the script ran" };
      return { report, exitCode: null, signal: "SIGKILL", timedOut, memoryLimitHit: oomKilled ?? !timedOut };
    case "signalled": {
      const signal = SIGNAL_NAMES.get(supervisor.signal) ?? `signal ${supervisor.signal}`;
      // Without a cgroup to ask: the kernel's OOM killer is what sends SIGKILL in a run (the
      // script cannot send it to its pid 1, and the server's own kill is a timeout).
      return { report, exitCode: null, signal, timedOut, memoryLimitHit: oomKilled ?? (signal === "SIGKILL" && !timedOut) };
    }
    case "exited":
      return { report, exitCode: supervisor.exitCode, signal: null, timedOut, memoryLimitHit: oomKilled ?? false };
  }
}
