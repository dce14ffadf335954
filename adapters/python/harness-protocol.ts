import type { CapturedOutput } from "../../domain/captured-output.js";
import type { ExecutionRequest } from "../../domain/execution-request.js";
import { failure } from "../../domain/execution-result.js";
import type { ScriptFailureCode } from "../../domain/failure-code.js";
import { err, ok } from "../../domain/result.js";
import type { SandboxOutcome } from "../../domain/sandbox.port.js";

/** The resource limits the harness applies to itself before the script's first line runs. */
export interface HarnessLimits {
  readonly addressSpaceBytes?: number;
  readonly cpuSeconds?: number;
  readonly fileSizeBytes?: number;
  readonly openFiles?: number;
  readonly processes?: number;
}

export interface HarnessRequest {
  readonly script: string;
  readonly limits: HarnessLimits;
  /** The run's memory limit, for messages (the limits above or the sandbox enforce it). */
  readonly memoryMb: number;
  readonly maxResultBytes: number;
}

/** What the harness wrote on its result channel. */
export type HarnessReport =
  | { readonly kind: "ok"; readonly resultJson: string }
  | { readonly kind: "error"; readonly code: ScriptFailureCode; readonly message: string; readonly traceback?: string }
  | { readonly kind: "malformed" }
  | { readonly kind: "none" };

const REPORTABLE_CODES: ReadonlySet<string> = new Set([
  "SYNTAX_ERROR",
  "MAIN_NOT_FOUND",
  "RUNTIME_ERROR",
  "RESULT_NOT_JSON",
  "RESULT_TOO_LARGE",
  "SCRIPT_EXITED",
  "MEMORY_LIMIT_EXCEEDED",
  "RESOURCE_LIMIT_EXCEEDED",
]);

/** Exit status of a harness that could not write its report: the script closed the channel. */
export const RESULT_CHANNEL_LOST_EXIT = 86;

/** Room on the result channel for the report's header line beside the result itself. */
export const REPORT_HEADER_ALLOWANCE_BYTES = 256 * 1024;

export const cpuSecondsFor = (timeoutMs: number): number => Math.ceil(timeoutMs / 1000) + 1;

export function encodeHarnessRequest(request: HarnessRequest): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(request));
}

/**
 * The report on the result channel. Code that writes to the channel itself chooses its own
 * result, as a `return` would, but not a larger one than the limit.
 */
export function parseHarnessReport(bytes: Uint8Array, maxResultBytes: number): HarnessReport {
  if (bytes.length === 0) return { kind: "none" };
  const newline = bytes.indexOf(0x0a);
  if (newline < 0) return { kind: "malformed" };
  const decoder = new TextDecoder("utf-8", { fatal: false });
  let header: unknown;
  try {
    header = JSON.parse(decoder.decode(bytes.subarray(0, newline)));
  } catch {
    return { kind: "malformed" };
  }
  if (typeof header !== "object" || header === null) return { kind: "malformed" };
  const fields = header as Record<string, unknown>;
  if (fields.status === "ok") {
    const body = bytes.subarray(newline + 1);
    if (body.length > maxResultBytes) {
      return { kind: "error", code: "RESULT_TOO_LARGE", message: `The result is ${body.length} bytes of JSON, over the limit of ${maxResultBytes} bytes` };
    }
    const resultJson = decoder.decode(body);
    return isJson(resultJson) ? { kind: "ok", resultJson } : { kind: "malformed" };
  }
  if (fields.status === "error" && typeof fields.code === "string" && REPORTABLE_CODES.has(fields.code)) {
    return {
      kind: "error",
      code: fields.code as ScriptFailureCode,
      message: typeof fields.message === "string" ? fields.message : fields.code,
      ...(typeof fields.traceback === "string" ? { traceback: fields.traceback } : {}),
    };
  }
  return { kind: "malformed" };
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** How the sandboxed process ended, as seen from outside. */
export interface ProcessEnding {
  readonly report: HarnessReport;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly timedOut: boolean;
  /** The backend saw the memory limit hit (a cgroup OOM kill). */
  readonly memoryLimitHit?: boolean;
  /** The backend saw the process-count limit hit. */
  readonly processLimitHit?: boolean;
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
export function outcomeOf(
  ending: ProcessEnding,
  output: CapturedOutput,
  request: ExecutionRequest,
  durationMs: number,
): SandboxOutcome {
  const { report } = ending;
  const fail = (code: ScriptFailureCode, message: string, traceback?: string) =>
    err(failure(code, message, output, traceback === undefined ? { durationMs } : { durationMs, traceback }));

  if (report.kind === "ok") return ok({ resultJson: report.resultJson, output, durationMs });
  if (report.kind === "error") return fail(report.code, report.message, report.traceback);
  if (ending.timedOut) {
    return fail("TIMEOUT", `Script execution timed out: the wall-clock limit of ${request.timeoutMs} ms was reached`);
  }
  if (ending.memoryLimitHit) return fail("MEMORY_LIMIT_EXCEEDED", `Memory limit exceeded (${request.memoryMb} MB)`);
  if (ending.processLimitHit) {
    return fail("RESOURCE_LIMIT_EXCEEDED", "Process limit exceeded: the script started too many processes or threads");
  }
  if (ending.signal === "SIGXCPU") {
    return fail("TIMEOUT", `Script execution timed out: the CPU time limit of ${cpuSecondsFor(request.timeoutMs)} s was reached`);
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
