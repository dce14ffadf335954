import type { InputFile } from "./execution-request.js";
import type { ExecutionFailure } from "./execution-result.js";
import type { Result } from "./result.js";
import type { SandboxOutcome } from "./sandbox.port.js";

/** What a session's sandbox is started with. */
export interface SessionSpec {
  /** The whole session's memory: every cell, and what its work dir holds. */
  readonly memoryMb: number;
  /** The session's process is stopped at this age whatever it is doing. */
  readonly maxAgeMs: number;
  /** Written into the session's work dir before its first cell. */
  readonly files?: readonly InputFile[];
}

/** One cell: top-level code run in the session's namespace; its result is its last expression's value. */
export interface Cell {
  readonly code: string;
  /** At this time the cell is interrupted (KeyboardInterrupt); the session keeps its state. */
  readonly timeoutMs: number;
  /** Written into the work dir before the cell runs. */
  readonly files?: readonly InputFile[];
}

/** A cell's outcome, and whether the session outlived it. */
export interface CellOutcome {
  readonly outcome: SandboxOutcome;
  /** The cell ended its session (its memory limit, a kill at its time limit, the process exited). */
  readonly sessionEnded: boolean;
}

/** A sandbox that outlives one request: cells run one after another in one interpreter. */
export interface SandboxSession {
  /** Runs one cell; the caller never overlaps two. Never throws for anything the cell does. */
  runCell(cell: Cell): Promise<CellOutcome>;
  /** Kills the session's processes; resolves once they are gone and what it held is given back. */
  end(): Promise<void>;
  /** Resolves when the session ended on its own (between cells): why, for the server log and metrics. */
  readonly ended: Promise<string>;
}

/** Starts sessions; every backend does, through the same run lifecycle as a one-shot run. */
export interface SessionSandboxPort {
  openSession(spec: SessionSpec): Promise<Result<SandboxSession, ExecutionFailure>>;
}
