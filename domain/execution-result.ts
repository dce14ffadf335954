import type { Artifacts } from "./artifacts.js";
import type { CapturedOutput } from "./captured-output.js";
import type { FailureCode } from "./failure-code.js";

/**
 * What a success's resultJson holds. "json": the value itself. "repr": a cell's value that is
 * not JSON (or whose JSON is over the result's cap), as a JSON string holding its repr(), cut
 * at the harness's MAX_RESULT_REPR_CHARS.
 */
export const RESULT_KINDS = ["json", "repr"] as const;
export type ResultKind = (typeof RESULT_KINDS)[number];

/**
 * main() returned a JSON value, or a cell ended with one. `resultJson` is the exact JSON text
 * the harness produced, passed through unparsed so integers beyond 2^53 and float spellings
 * survive intact.
 */
export interface ExecutionSuccess {
  readonly resultJson: string;
  /** Absent: "json". */
  readonly resultKind?: ResultKind;
  readonly output: CapturedOutput;
  readonly durationMs: number;
  /** The files and figures the run left; absent when it left none. */
  readonly artifacts?: Artifacts;
}

/** The run failed; `output` holds what the script printed before it did. */
export interface ExecutionFailure {
  readonly code: FailureCode;
  readonly message: string;
  readonly output: CapturedOutput;
  readonly traceback?: string;
  readonly durationMs?: number;
  /** For a refusal (BUSY, or SANDBOX_UNAVAILABLE at shutdown): how long the client should wait before retrying. */
  readonly retryAfterSeconds?: number;
  /** The files and figures the run left before it failed (they can explain the failure). */
  readonly artifacts?: Artifacts;
  /** A session's cell that ended its session: later calls to it are SESSION_NOT_FOUND. */
  readonly sessionEnded?: boolean;
}

export const failure = (
  code: FailureCode,
  message: string,
  output: CapturedOutput,
  extra: Partial<Pick<ExecutionFailure, "traceback" | "durationMs" | "retryAfterSeconds" | "artifacts" | "sessionEnded">> = {},
): ExecutionFailure => ({ code, message, output, ...extra });
