import { NO_OUTPUT } from "../../domain/captured-output.js";
import type { ExecutionFailure } from "../../domain/execution-result.js";
import { ok, type Result } from "../../domain/result.js";
import type { Cell, CellOutcome, SandboxSession, SessionSandboxPort, SessionSpec } from "../../domain/session.port.js";

/** A session's sandbox whose cells answer as its port's `answer` says; it records them and its ends. */
export class FakeSession implements SandboxSession {
  readonly cells: Cell[] = [];
  ends = 0;
  readonly ended = new Promise<string>(() => undefined);

  constructor(private readonly port: FakeSessionSandbox) {}

  runCell(cell: Cell): Promise<CellOutcome> {
    this.cells.push(cell);
    return this.port.answer(cell);
  }

  async end(): Promise<void> {
    this.ends++;
  }
}

/**
 * The sessions' sandbox port of the HTTP and MCP tests: every session opens; each cell answers
 * with `answer` (by default a success whose result is null). It records what it was asked.
 */
export class FakeSessionSandbox implements SessionSandboxPort {
  readonly specs: SessionSpec[] = [];
  readonly sessions: FakeSession[] = [];
  answer: (cell: Cell) => Promise<CellOutcome> = async () => ({ outcome: ok({ resultJson: "null", output: NO_OUTPUT, durationMs: 1 }), sessionEnded: false });

  async openSession(spec: SessionSpec): Promise<Result<SandboxSession, ExecutionFailure>> {
    this.specs.push(spec);
    const session = new FakeSession(this);
    this.sessions.push(session);
    return ok(session);
  }
}
