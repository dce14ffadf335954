/**
 * The harness's wire format: the request it reads on stdin and the report it writes on its
 * result channel (the sandbox_harness package is the other side). What a run amounts to is harness-outcome.ts.
 */
import type { Artifacts } from "../../domain/artifacts.js";
import type { EntryMode, ExecutionRequest, InputFile } from "../../domain/execution-request.js";
import type { ResultKind } from "../../domain/execution-result.js";
import { REPORTED_FAILURE_CODES, type ScriptFailureCode } from "../../domain/failure-code.js";
import { MAX_PATH_BYTES, MAX_RESULT_DEPTH } from "./protocol-facts.js";
import { readArtifacts } from "./report-artifacts.js";
import { asLine, sessionOf } from "./session-link.js";

/** The resource limits the harness applies to itself before the script's first line runs. */
export interface HarnessLimits {
  readonly addressSpaceBytes?: number;
  readonly cpuSeconds?: number;
  readonly fileSizeBytes?: number;
  readonly openFiles?: number;
  readonly processes?: number;
}

/** What the response may carry of a run's files and figures (MAX_OUTPUT_FILES and friends). */
export interface ArtifactLimits {
  /** Files listed at most. */
  readonly maxFiles: number;
  /** File contents and figures together, in bytes. */
  readonly maxBytes: number;
  readonly maxFigures: number;
}

export interface HarnessRequest {
  readonly script: string;
  readonly entry: EntryMode;
  readonly limits: HarnessLimits;
  /** The run's memory limit, for messages (the limits above or the sandbox enforce it). */
  readonly memoryMb: number;
  readonly maxResultBytes: number;
  readonly artifactLimits: ArtifactLimits;
  /** The exact JSON text of main()'s keyword arguments; absent: main() is called with none. */
  readonly argsJson?: string;
  readonly files?: readonly InputFile[];
  /** A session's opening request: the harness then reads cells on stdin (session-link.ts). */
  readonly session?: { readonly marker: string };
}

/** Limits a sandbox with cgroups can tell were really hit. */
type ConfirmableLimit = "memory" | "processes";
const CONFIRMABLE_LIMITS: ReadonlySet<string> = new Set(["memory", "processes"]);

/** What the harness wrote on its result channel. */
export type HarnessReport =
  | { readonly kind: "ok"; readonly resultJson: string; readonly resultKind?: ResultKind; readonly artifacts?: Artifacts }
  | {
      readonly kind: "error";
      readonly code: ScriptFailureCode;
      readonly message: string;
      readonly traceback?: string;
      /** The harness blamed a limit the sandbox may confirm; `exception` is what the script saw. */
      readonly limit?: ConfirmableLimit;
      readonly exception?: string;
      readonly artifacts?: Artifacts;
    }
  | { readonly kind: "malformed" }
  | { readonly kind: "none" };

const REPORTABLE_CODES: ReadonlySet<string> = new Set(REPORTED_FAILURE_CODES);

/** Room on the result channel for the report's header line (message, traceback) beside the result. */
const REPORT_HEADER_ALLOWANCE_BYTES = 256 * 1024;
/** Room in the header for one listed file or figure: a path of up to MAX_PATH_BYTES, each byte escaped as \uXXXX at worst. */
const ARTIFACT_ENTRY_ALLOWANCE_BYTES = 6 * MAX_PATH_BYTES + 256;

/** The most a harness may write on its result channel; more means the script wrote there too. */
export const maxReportBytes = (maxResultBytes: number, artifacts: ArtifactLimits): number =>
  maxResultBytes + artifacts.maxBytes + (artifacts.maxFiles + artifacts.maxFigures) * ARTIFACT_ENTRY_ALLOWANCE_BYTES + REPORT_HEADER_ALLOWANCE_BYTES;

/** The harness's request for a run: the execution request, with what the backend fixes itself. */
export function harnessRequestFor(
  request: ExecutionRequest,
  fixed: { readonly limits: HarnessLimits; readonly maxResultBytes: number; readonly artifactLimits: ArtifactLimits },
): HarnessRequest {
  const session = sessionOf(request);
  return {
    script: request.script,
    entry: request.entry ?? "main",
    limits: fixed.limits,
    memoryMb: request.memoryMb,
    maxResultBytes: fixed.maxResultBytes,
    artifactLimits: fixed.artifactLimits,
    ...(request.argsJson === undefined ? {} : { argsJson: request.argsJson }),
    ...(request.files === undefined ? {} : { files: request.files }),
    ...(session === undefined ? {} : { session: { marker: session.marker } }),
  };
}

/** The JSON the harness reads on stdin; the args are spliced in as the client wrote them. */
export function encodeHarnessRequest(request: HarnessRequest): Uint8Array {
  const { argsJson, ...rest } = request;
  const json = JSON.stringify(rest);
  return new TextEncoder().encode(argsJson === undefined ? json : `{"args":${argsJson},${json.slice(1)}`);
}

/** One cell, as the harness reads it: a script in cell mode with its own time limit. */
export interface CellRequest {
  readonly code: string;
  readonly timeoutMs: number;
  readonly memoryMb: number;
  readonly maxResultBytes: number;
  readonly artifactLimits: ArtifactLimits;
  readonly files?: readonly InputFile[];
}

/** The cell's request line on the session's request channel. */
export function encodeCellRequest(cell: CellRequest): Uint8Array {
  const { code, timeoutMs, files, ...fixed } = cell;
  const request = { script: code, entry: "cell", cellTimeoutMs: timeoutMs, ...fixed, ...(files === undefined ? {} : { files }) };
  return asLine(new TextEncoder().encode(JSON.stringify(request)));
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
  const body = bytes.subarray(newline + 1);
  if (fields.status === "ok") {
    const resultBytes = fields.resultBytes;
    if (typeof resultBytes !== "number" || !Number.isSafeInteger(resultBytes) || resultBytes < 0 || resultBytes > body.length) {
      return { kind: "malformed" };
    }
    if (resultBytes > maxResultBytes) {
      return { kind: "error", code: "RESULT_TOO_LARGE", message: `The result is ${resultBytes} bytes of JSON, over the limit of ${maxResultBytes} bytes` };
    }
    const resultJson = decoder.decode(body.subarray(0, resultBytes));
    const reported = readArtifacts(fields, body.subarray(resultBytes));
    if (!isStrictJson(resultJson) || reported === undefined || resultBytes + reported.bytes !== body.length) return { kind: "malformed" };
    // The harness names a result's kind only for a cell's repr, which travels as a JSON string.
    const isRepr = fields.resultKind === "repr";
    if ((fields.resultKind !== undefined && !isRepr) || (isRepr && !resultJson.startsWith('"'))) return { kind: "malformed" };
    return { kind: "ok", resultJson, ...(isRepr ? { resultKind: "repr" } : {}), ...(reported.artifacts ? { artifacts: reported.artifacts } : {}) };
  }
  if (fields.status === "error" && typeof fields.code === "string" && REPORTABLE_CODES.has(fields.code)) {
    const reported = readArtifacts(fields, body);
    if (reported === undefined || reported.bytes !== body.length) return { kind: "malformed" };
    return {
      kind: "error",
      code: fields.code as ScriptFailureCode,
      message: typeof fields.message === "string" ? fields.message.toWellFormed() : fields.code,
      ...(typeof fields.traceback === "string" ? { traceback: fields.traceback.toWellFormed() } : {}),
      ...(typeof fields.limit === "string" && CONFIRMABLE_LIMITS.has(fields.limit) ? { limit: fields.limit as ConfirmableLimit } : {}),
      ...(typeof fields.exception === "string" ? { exception: fields.exception.toWellFormed() } : {}),
      ...(reported.artifacts ? { artifacts: reported.artifacts } : {}),
    };
  }
  return { kind: "malformed" };
}

/** A report the harness finished: a run that wrote it and closed its streams has nothing more to say. */
export const isFinishedReport = (report: HarnessReport): boolean => report.kind === "ok" || report.kind === "error";

/** A JSON number written as an integer: exact at any size (Python's json writes ints so). */
const INTEGER_LITERAL = /^-?(0|[1-9][0-9]*)$/;

/**
 * JSON that every client can read back as it was meant: numbers that are integers or finite
 * (1E400 parses as Infinity; an integer of 400 digits is exact text, as the harness writes
 * it), well-formed Unicode (no lone surrogate escapes), and no deeper than the harness
 * allows. The harness only produces such results; a report the script forged need not be.
 */
function isStrictJson(text: string): boolean {
  let value: unknown;
  let overflows = false;
  try {
    value = JSON.parse(text, (_key, parsed: unknown, context?: { source?: string }) => {
      if (typeof parsed === "number" && !Number.isFinite(parsed) && !INTEGER_LITERAL.test(context?.source ?? "")) overflows = true;
      return parsed;
    });
  } catch {
    return false;
  }
  if (overflows) return false;
  const pending: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
  for (let item = pending.pop(); item !== undefined; item = pending.pop()) {
    const { value: current, depth } = item;
    if (typeof current === "string" && !current.isWellFormed()) return false;
    if (typeof current !== "object" || current === null) continue;
    if (depth >= MAX_RESULT_DEPTH) return false;
    for (const [key, child] of Object.entries(current)) {
      if (!key.isWellFormed()) return false;
      pending.push({ value: child, depth: depth + 1 });
    }
  }
  return true;
}
