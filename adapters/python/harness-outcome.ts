import type { CapturedOutput } from "../../domain/captured-output.js";
import type { ExecutionRequest } from "../../domain/execution-request.js";
import { failure } from "../../domain/execution-result.js";
import type { ScriptFailureCode } from "../../domain/failure-code.js";
import { err, ok } from "../../domain/result.js";
import type { SandboxOutcome } from "../../domain/sandbox.port.js";
import { cpuSecondsFor } from "../run/run-limits.js";
import type { HarnessReport } from "./harness-protocol.js";
import { RESULT_CHANNEL_LOST_EXIT } from "./protocol-facts.js";

/** How the sandboxed process ended, as seen from outside. */
export interface ProcessEnding {
  readonly report: HarnessReport;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly timedOut: boolean;
  /** The backend saw the memory limit hit (a cgroup OOM kill). */
  readonly memoryLimitHit?: boolean;
  /**
   * Which limits the backend's cgroup saw hit; undefined where it has none. A limit the harness
   * blamed but the cgroup did not see hit was an ordinary error (EAGAIN of a non-blocking read,
   * ENOMEM of mlock) or a report the script forged.
   */
  readonly limitsHit?: { readonly memory: boolean; readonly processes: boolean };
}

const SIGNAL_MEANINGS: Record<string, { code: ScriptFailureCode; message: string }> = {
  SIGSEGV: {
    code: "RESOURCE_LIMIT_EXCEEDED",
    message: "The Python interpreter crashed (SIGSEGV), typically from runaway recursion or a fault in a native extension",
  },
  SIGBUS: { code: "RESOURCE_LIMIT_EXCEEDED", message: "The Python interpreter crashed (SIGBUS)" },
  SIGABRT: { code: "RESOURCE_LIMIT_EXCEEDED", message: "The Python interpreter aborted (SIGABRT), often because memory ran out" },
  SIGXFSZ: { code: "RESOURCE_LIMIT_EXCEEDED", message: "File size limit exceeded (SIGXFSZ)" },
};

/** Turns what the harness reported and how its process ended into the run's outcome. */
export function outcomeOf(ending: ProcessEnding, output: CapturedOutput, request: ExecutionRequest, durationMs: number): SandboxOutcome {
  const { report } = ending;
  const fail = (code: ScriptFailureCode, message: string, traceback?: string) =>
    err(failure(code, message, output, traceback === undefined ? { durationMs } : { durationMs, traceback }));

  if (report.kind === "ok") {
    const { resultJson, resultKind, artifacts } = report;
    return ok({ resultJson, ...(resultKind ? { resultKind } : {}), output, durationMs, ...(artifacts ? { artifacts } : {}) });
  }
  if (report.kind === "error") {
    const { message, traceback, artifacts } = report;
    // A limit the harness blamed but the cgroup did not see hit was the script's own error.
    const unconfirmed = report.limit !== undefined && ending.limitsHit !== undefined && !ending.limitsHit[report.limit];
    const code = unconfirmed ? "RUNTIME_ERROR" : report.code;
    return err(
      failure(code, unconfirmed ? (report.exception ?? message) : message, output, {
        durationMs,
        ...(traceback === undefined ? {} : { traceback }),
        ...(artifacts ? { artifacts } : {}),
      }),
    );
  }
  if (ending.timedOut) {
    return fail("TIMEOUT", `Script execution timed out: the wall-clock limit of ${request.timeoutMs} ms was reached`);
  }
  if (ending.memoryLimitHit) return fail("MEMORY_LIMIT_EXCEEDED", `Memory limit exceeded (${request.memoryMb} MB)`);
  if (ending.signal === "SIGXCPU") {
    // A script may lower its own RLIMIT_CPU, so the run's limit is only an upper bound.
    return fail("TIMEOUT", `Script execution timed out: the CPU time limit (at most ${cpuSecondsFor(request.timeoutMs)} s) was reached`);
  }
  if (report.kind === "malformed" || (report.kind === "none" && ending.signal === null && ending.exitCode === RESULT_CHANNEL_LOST_EXIT)) {
    return fail("RUNTIME_ERROR", "The script closed or wrote over the harness's result channel; no result could be read");
  }
  if (ending.signal !== null) {
    const meaning = SIGNAL_MEANINGS[ending.signal];
    if (meaning) return fail(meaning.code, meaning.message);
    return fail("RESOURCE_LIMIT_EXCEEDED", `The Python interpreter was killed by ${ending.signal}`);
  }
  return fail("SCRIPT_EXITED", `The script ended the process (exit status ${ending.exitCode ?? "unknown"}) before main() returned`);
}
