import type { Logger } from "pino";
import type { ExecutionRequest } from "../../domain/execution-request.js";
import { decodedBytes } from "../../domain/input-files.js";
import type { SandboxOutcome } from "../../domain/sandbox.port.js";

/**
 * The one log line per execution. Sizes only: the script, its output and its files (names
 * included) are the user's data and never reach the log.
 */
export interface ExecutionLogEntry {
  readonly requestId: string | undefined;
  readonly backend: string;
  /** "OK" for a success, else the failure code. */
  readonly code: string;
  /** Wall-clock time of the whole request, queue wait included. */
  readonly durationMs: number;
  /** The sandbox's own measure of the run, when it ran. */
  readonly runMs: number | undefined;
  readonly scriptBytes: number;
  readonly stdoutBytes: number;
  readonly stderrBytes: number;
  readonly stdoutTruncated: boolean;
  readonly stderrTruncated: boolean;
  readonly resultBytes: number | undefined;
  /** Files the request brought, and their decoded size together. */
  readonly inputFiles: number;
  readonly inputFileBytes: number;
  /** Files and figures the response carries. */
  readonly outputFiles: number;
  readonly figures: number;
  readonly timeoutMs: number;
  readonly memoryMb: number;
}

const utf8Bytes = (text: string): number => Buffer.byteLength(text, "utf8");

export const outcomeCode = (outcome: SandboxOutcome): string => (outcome.ok ? "OK" : outcome.error.code);

export function executionLogEntry(args: {
  requestId: string | undefined;
  backend: string;
  request: ExecutionRequest;
  outcome: SandboxOutcome;
  durationMs: number;
}): ExecutionLogEntry {
  const { outcome, request } = args;
  const output = outcome.ok ? outcome.value.output : outcome.error.output;
  const artifacts = outcome.ok ? outcome.value.artifacts : outcome.error.artifacts;
  const inputs = request.files ?? [];
  return {
    requestId: args.requestId,
    backend: args.backend,
    code: outcomeCode(outcome),
    durationMs: args.durationMs,
    runMs: outcome.ok ? outcome.value.durationMs : outcome.error.durationMs,
    scriptBytes: utf8Bytes(request.script),
    stdoutBytes: utf8Bytes(output.stdout),
    stderrBytes: utf8Bytes(output.stderr),
    stdoutTruncated: output.stdoutTruncated,
    stderrTruncated: output.stderrTruncated,
    resultBytes: outcome.ok ? utf8Bytes(outcome.value.resultJson) : undefined,
    inputFiles: inputs.length,
    inputFileBytes: inputs.reduce((sum, file) => sum + decodedBytes(file), 0),
    outputFiles: artifacts?.files.length ?? 0,
    figures: artifacts?.figures.length ?? 0,
    timeoutMs: request.timeoutMs,
    memoryMb: request.memoryMb,
  };
}

/** Failures of the service itself are errors, refusals under load warnings, the rest (a script's own failures) info. */
function levelOf(code: string): "info" | "warn" | "error" {
  if (code === "INTERNAL" || code === "SANDBOX_UNAVAILABLE") return "error";
  if (code === "BUSY") return "warn";
  return "info";
}

export function logExecution(logger: Logger, entry: ExecutionLogEntry): void {
  logger[levelOf(entry.code)](entry, "execution");
}
