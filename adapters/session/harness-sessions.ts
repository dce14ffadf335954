import { randomBytes } from "node:crypto";
import { NO_OUTPUT } from "../../domain/captured-output.js";
import { type ExecutionFailure, failure } from "../../domain/execution-result.js";
import { err, ok, type Result } from "../../domain/result.js";
import type { SandboxOutcome, SandboxPort } from "../../domain/sandbox.port.js";
import type { Cell, CellOutcome, SandboxSession, SessionSandboxPort, SessionSpec } from "../../domain/session.port.js";
import { outcomeOf } from "../python/harness-outcome.js";
import { type ArtifactLimits, encodeCellRequest, maxReportBytes, parseHarnessReport } from "../python/harness-protocol.js";
import type { SessionLink, SessionRunRequest } from "../python/session-link.js";
import { outputOf } from "../python/started-harness.js";
import { DRAIN_GRACE_MS } from "../run/end-graces.js";
import { type Exchange, SessionExchanges } from "./session-exchanges.js";

/** What a session's harness may send back per cell (MAX_OUTPUT_BYTES, MAX_RESULT_BYTES, MAX_OUTPUT_FILES...). */
export interface SessionOutputLimits {
  readonly maxOutputBytes: number;
  readonly maxResultBytes: number;
  readonly artifactLimits: ArtifactLimits;
}

/**
 * How long past its time limit a cell has to stop after its KeyboardInterrupt (C code that does
 * not return to Python, a cell that catches it) before its session is ended.
 */
export const CELL_STOP_GRACE_MS = 2000;

const UNAVAILABLE = "The session's sandbox could not be started; retry the request";

/**
 * Sessions on any backend: a session is one run of the backend (its lease, sandbox, deadline
 * and end are the run lifecycle's, as for any run) whose harness serves cells until the session
 * is ended. The run's time limit is the session's maximum age.
 */
export class HarnessSessions implements SessionSandboxPort {
  constructor(
    private readonly sandbox: SandboxPort,
    private readonly limits: SessionOutputLimits,
  ) {}

  async openSession(spec: SessionSpec): Promise<Result<SandboxSession, ExecutionFailure>> {
    const { maxOutputBytes, maxResultBytes, artifactLimits } = this.limits;
    const marker = `\x1e${randomBytes(16).toString("hex")}\x1e`;
    const exchanges = new SessionExchanges(marker, { maxOutputBytes, maxReportBytes: maxReportBytes(maxResultBytes, artifactLimits) });
    let send: ((line: Uint8Array) => void) | undefined;
    const link: SessionLink = { marker, streams: exchanges, opened: (sender) => (send = sender) };
    const stop = new AbortController();
    const request: SessionRunRequest = {
      script: "",
      entry: "cell",
      timeoutMs: spec.maxAgeMs,
      memoryMb: spec.memoryMb,
      ...(spec.files === undefined ? {} : { files: spec.files }),
      signal: stop.signal,
      session: link,
    };
    const run = this.sandbox.run(request);
    const opening = await Promise.race([exchanges.exchange(0).report, run]);
    if (!(opening instanceof Uint8Array) || send === undefined) {
      stop.abort();
      const outcome = await run;
      return err(outcome.ok ? failure("SANDBOX_UNAVAILABLE", UNAVAILABLE, NO_OUTPUT) : outcome.error);
    }
    const session = new HarnessSession({ run, stop, exchanges, send, memoryMb: spec.memoryMb, maxResultBytes, artifactLimits });
    // The opening wrote the session's files: a file it could not write fails the opening.
    const opened = await session.answer(0, opening, { timeoutMs: spec.maxAgeMs, code: "" }, 0);
    if (opened.outcome.ok) return ok(session);
    await session.end();
    return err(opened.outcome.error);
  }
}

interface SessionParts {
  /** The session's run: it resolves once its processes are gone and its lease is given back. */
  readonly run: Promise<SandboxOutcome>;
  /** Ends the run as at its time limit. */
  readonly stop: AbortController;
  readonly exchanges: SessionExchanges;
  readonly send: (line: Uint8Array) => void;
  readonly memoryMb: number;
  readonly maxResultBytes: number;
  readonly artifactLimits: ArtifactLimits;
}

class HarnessSession implements SandboxSession {
  readonly ended: Promise<string>;
  private cells = 0;

  constructor(private readonly parts: SessionParts) {
    this.ended = parts.run.then((outcome) => (outcome.ok ? "its process ended" : `${outcome.error.code}: ${outcome.error.message}`));
  }

  async runCell(cell: Cell): Promise<CellOutcome> {
    const { exchanges, send, memoryMb, maxResultBytes, artifactLimits, run } = this.parts;
    const index = ++this.cells;
    const exchange = exchanges.exchange(index);
    const startedAt = performance.now();
    send(
      encodeCellRequest({ code: cell.code, timeoutMs: cell.timeoutMs, memoryMb, maxResultBytes, artifactLimits, ...(cell.files ? { files: cell.files } : {}) }),
    );
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), cell.timeoutMs + CELL_STOP_GRACE_MS)));
    try {
      const first = await Promise.race([exchange.report, run.then(() => "ended" as const), late]);
      clearTimeout(timer);
      const durationMs = Math.round(performance.now() - startedAt);
      if (first === "late") {
        await this.end();
        const message = `The cell did not stop within ${CELL_STOP_GRACE_MS} ms of its time limit of ${cell.timeoutMs} ms (code that ignores KeyboardInterrupt): its session was ended`;
        return { outcome: err(failure("TIMEOUT", message, outputOf(exchange), { durationMs })), sessionEnded: true };
      }
      if (first === "ended") return { outcome: this.endedDuring(await run, exchange, durationMs), sessionEnded: true };
      return await this.answer(index, first, cell, durationMs);
    } finally {
      clearTimeout(timer);
      exchanges.forget(index);
    }
  }

  /** The exchange's outcome from its report, once its output has reached the marker (or a short grace has passed). */
  async answer(index: number, report: Uint8Array | "malformed", cell: Pick<Cell, "timeoutMs" | "code">, durationMs: number): Promise<CellOutcome> {
    const exchange = this.parts.exchanges.exchange(index);
    if (report === "malformed") {
      await this.end();
      const message = "The cell wrote over the session's result channel; no result could be read and the session was ended";
      return { outcome: err(failure("RUNTIME_ERROR", message, outputOf(exchange), { durationMs })), sessionEnded: true };
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exchange.outputEnded, new Promise((resolve) => (timer = setTimeout(resolve, DRAIN_GRACE_MS)))]);
    clearTimeout(timer);
    const parsed = parseHarnessReport(report, this.parts.maxResultBytes);
    const request = { script: cell.code, timeoutMs: cell.timeoutMs, memoryMb: this.parts.memoryMb };
    const outcome = outcomeOf({ report: parsed, exitCode: null, signal: null, timedOut: false }, outputOf(exchange), request, durationMs);
    // A cell that ran out of memory leaves the interpreter in no state to trust: the session ends with it.
    if (outcome.ok || (outcome.error.code !== "MEMORY_LIMIT_EXCEEDED" && parsed.kind !== "malformed")) return { outcome, sessionEnded: false };
    await this.end();
    return { outcome, sessionEnded: true };
  }

  async end(): Promise<void> {
    this.parts.stop.abort();
    await this.parts.run;
  }

  /** The session's process ended while the cell ran: why, with what the cell printed. */
  private endedDuring(outcome: SandboxOutcome, exchange: Exchange, durationMs: number): SandboxOutcome {
    const output = outputOf(exchange);
    if (outcome.ok) return err(failure("SCRIPT_EXITED", "The cell ended the session's process", output, { durationMs }));
    const { code, message } = outcome.error;
    const why = code === "SCRIPT_EXITED" ? "The cell ended the session's process" : message;
    return err(failure(code, `${why}; the session has ended`, output, { durationMs }));
  }
}
