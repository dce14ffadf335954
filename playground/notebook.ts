import { ScriptEditor } from "./editor.js";
import { failingLine } from "./failing-line.js";
import { loadCells, saveCells } from "./notebook-draft.js";
import { type CellRun, type Fetch, NotebookSession, type SessionState } from "./notebook-session.js";
import { AnswerBlocks, element, timing } from "./render.js";
import type { CellOutcome } from "./session-answer.js";

/** The cells a notebook starts with when the browser kept none. */
const FIRST_CELLS = ["# Names stay defined from cell to cell, until Restart.\nx = 41", "x + 1"];

/** The page's parts the notebook fills in and listens to. */
export interface NotebookParts {
  readonly cells: HTMLElement;
  readonly sessionStatus: HTMLElement;
  readonly restart: HTMLButtonElement;
  readonly addCell: HTMLButtonElement;
}

export interface NotebookOptions {
  readonly fetch: Fetch;
  readonly apiKey: () => string;
  /** The service answered 401: the key field should be shown. */
  readonly unauthorized: () => void;
  readonly storage: Pick<Storage, "getItem" | "setItem">;
}

type CellState = "idle" | "queued" | "running";

/** One cell: its editor, its Run and Delete buttons, its prompt ([ ], [*], [n]) and what its last run showed. */
class Cell {
  readonly root: HTMLElement;
  readonly editor: ScriptEditor;
  private readonly prompt = element("span", { className: "prompt", title: "The cell's number in the session: the order the cells ran in" }, "[ ]");
  private readonly runButton = element(
    "button",
    { type: "button", className: "run", title: "Run (Ctrl+Enter; Shift+Enter runs and moves to the next cell)" },
    "Run",
  );
  readonly deleteButton = element("button", { type: "button", className: "delete secondary", title: "Delete the cell" }, "✕");
  private readonly output = element("div", { className: "cell-output" });
  private readonly blocks = new AnswerBlocks(false);
  private current: CellState = "idle";

  constructor(code: string, notebook: Notebook) {
    const editorParent = element("div", { className: "cell-editor" });
    this.root = element(
      "div",
      { className: "cell" },
      element("div", { className: "cell-input" }, this.prompt, editorParent, element("div", { className: "cell-actions" }, this.runButton, this.deleteButton)),
      this.output,
    );
    this.deleteButton.setAttribute("aria-label", "Delete the cell");
    this.editor = new ScriptEditor(editorParent, () => notebook.edited(), {
      label: "Python cell",
      keys: { run: () => notebook.run(this, false), runAndAdvance: () => notebook.run(this, true) },
    });
    this.editor.text = code;
    this.runButton.addEventListener("click", () => notebook.run(this, false));
    this.deleteButton.addEventListener("click", () => notebook.remove(this));
    this.setState("idle");
  }

  get state(): CellState {
    return this.current;
  }

  setState(state: CellState): void {
    this.current = state;
    this.root.dataset.state = state;
    this.runButton.disabled = state !== "idle";
    this.runButton.textContent = state === "queued" ? "Waiting…" : state === "running" ? "Running…" : "Run";
    if (state !== "idle") this.prompt.textContent = "[*]";
  }

  /** Before a run: the mark of the last failure goes, and the cell says it waits or runs. */
  showWaiting(state: "queued" | "running"): void {
    this.setState(state);
    this.editor.clearMark();
    this.showStatus(state, state === "queued" ? "Waiting for the cells before it…" : "Running…");
  }

  showStatus(state: string, ...content: (Node | string)[]): void {
    this.clear();
    this.output.append(this.blocks.status(state, ...content));
  }

  /** Nothing shown: a restart, or a run dropped by one. */
  reset(): void {
    this.setState("idle");
    this.prompt.textContent = "[ ]";
    this.editor.clearMark();
    this.clear();
  }

  showRun(run: CellRun): void {
    this.setState("idle");
    switch (run.kind) {
      case "answered":
        this.prompt.textContent = run.outcome.kind === "session-gone" ? "[ ]" : `[${run.count}]`;
        this.showOutcome(run.outcome, run.status, run.roundTripMs);
        return;
      case "not-started":
        this.prompt.textContent = "[ ]";
        this.showStatus("failed", element("strong", { className: "code" }, "Not run"), ` · no session could be started: ${run.message}`);
        return;
      case "dropped":
        this.prompt.textContent = "[ ]";
        this.showStatus("cancelled", `Not run: ${run.reason}.`);
        return;
      case "interrupted":
        this.prompt.textContent = "[ ]";
        this.showStatus("cancelled", "Interrupted by the restart.");
        return;
      case "unreachable":
        this.prompt.textContent = "[ ]";
        this.showStatus("failed", `Could not reach the service: ${run.message}`);
        return;
    }
  }

  private showOutcome(outcome: CellOutcome, status: number, roundTripMs: number): void {
    this.clear();
    const blocks = this.blocks;
    switch (outcome.kind) {
      case "ok": {
        const { body, result } = outcome;
        this.output.append(blocks.status("ok", element("strong", {}, "OK"), ` · ${timing(status, body.durationMs, roundTripMs)}`));
        if (result.kind === "json") this.output.append(blocks.jsonResult(result.value));
        if (result.kind === "repr") this.output.append(blocks.section("result", "Result", element("pre", { className: "repr" }, result.text)));
        this.output.append(
          ...blocks.dataOut(body),
          ...blocks.stream("stdout", body.stdout, body.stdoutTruncated, false),
          ...blocks.stream("stderr", body.stderr, body.stderrTruncated, false),
        );
        return;
      }
      case "failed": {
        const { body } = outcome;
        const line = failingLine(body);
        this.output.append(
          blocks.status("failed", element("strong", { className: "code" }, body.code), ` · ${timing(status, body.durationMs, roundTripMs)}`),
          ...blocks.failure(body, line),
          ...(outcome.sessionEnded ? [element("p", { className: "note" }, "This cell ended the session: the names defined so far are gone.")] : []),
          ...blocks.dataOut(body),
          ...blocks.stream("stdout", body.stdout, body.stdoutTruncated, false),
          ...blocks.stream("stderr", body.stderr, body.stderrTruncated, false),
        );
        if (line !== undefined) this.editor.markFailingLine(line, body.error);
        return;
      }
      case "session-gone":
        this.output.append(
          blocks.status("failed", element("strong", { className: "code" }, outcome.body.code), ` · HTTP ${status}`),
          element("p", { className: "error-message" }, "Not run: the session had ended."),
        );
        return;
      case "not-json":
        this.output.append(
          blocks.status("failed", `HTTP ${outcome.status}: the answer is not JSON`),
          blocks.section("raw", "Answer", element("pre", {}, outcome.text)),
        );
        return;
    }
  }

  private clear(): void {
    this.blocks.revoke();
    this.output.replaceChildren();
  }
}

/**
 * The notebook: cells of Python run in one session of the service (NotebookSession), so a name a
 * cell defines is there for the next; Shift+Enter runs a cell and moves on, Restart starts over.
 */
export class Notebook {
  private readonly cells: Cell[] = [];
  private readonly session: NotebookSession;
  /** Bumped by each restart: runs asked for before it no longer show anything. */
  private epoch = 0;

  constructor(
    private readonly parts: NotebookParts,
    private readonly options: NotebookOptions,
  ) {
    this.session = new NotebookSession(options.fetch, options.apiKey, (state) => this.showSession(state));
    for (const code of loadCells(options.storage) ?? FIRST_CELLS) this.add(code);
    parts.restart.addEventListener("click", () => void this.restart());
    parts.addCell.addEventListener("click", () => {
      this.add("").editor.focus();
      this.edited();
    });
    window.addEventListener("pagehide", () => this.session.leave());
    this.showSession(this.session.state);
  }

  focus(): void {
    (this.cells.find((cell) => cell.editor.hasFocus) ?? this.cells[0])?.editor.focus();
  }

  /** Runs the cell (after those asked for before it); with `advance`, focus moves to the next cell, a new one after the last. */
  run(cell: Cell, advance: boolean): void {
    if (advance) {
      const next = this.cells[this.cells.indexOf(cell) + 1] ?? this.add("", cell);
      next.editor.focus();
      this.edited();
    }
    if (cell.state !== "idle") return;
    // An empty cell has nothing to run (the service refuses empty code): it shows nothing, as a notebook's does.
    if (cell.editor.text.trim() === "") {
      cell.reset();
      return;
    }
    const epoch = this.epoch;
    cell.showWaiting("queued");
    void this.session
      .run(cell.editor.text, () => cell.showWaiting("running"))
      .then((run) => {
        if (epoch !== this.epoch && run.kind === "dropped") return;
        cell.showRun(run);
        if (run.kind === "answered" && run.status === 401) this.options.unauthorized();
        if (run.kind === "not-started" && run.status === 401) this.options.unauthorized();
      });
  }

  remove(cell: Cell): void {
    if (this.cells.length === 1) return;
    const at = this.cells.indexOf(cell);
    this.cells.splice(at, 1);
    cell.root.remove();
    this.cells[Math.min(at, this.cells.length - 1)]?.editor.focus();
    this.updateDeletable();
    this.edited();
  }

  /** Keeps the cells' code in the browser. */
  edited(): void {
    saveCells(
      this.options.storage,
      this.cells.map((cell) => cell.editor.text),
    );
  }

  private add(code: string, after?: Cell): Cell {
    const cell = new Cell(code, this);
    const at = after === undefined ? this.cells.length : this.cells.indexOf(after) + 1;
    this.cells.splice(at, 0, cell);
    const before = this.cells[at + 1];
    if (before) this.parts.cells.insertBefore(cell.root, before.root);
    else this.parts.cells.append(cell.root);
    this.updateDeletable();
    return cell;
  }

  private updateDeletable(): void {
    for (const cell of this.cells) cell.deleteButton.disabled = this.cells.length === 1;
  }

  private async restart(): Promise<void> {
    this.epoch += 1;
    for (const cell of this.cells) if (cell.state !== "running") cell.reset();
    this.parts.restart.disabled = true;
    try {
      await this.session.restart();
    } finally {
      this.parts.restart.disabled = false;
    }
  }

  private showSession(state: SessionState): void {
    const status = this.parts.sessionStatus;
    status.className = `session-status ${state.kind}`;
    switch (state.kind) {
      case "none":
        status.textContent = "No session yet: the first cell you run starts one.";
        return;
      case "starting":
        status.textContent = "Starting a session…";
        return;
      case "open": {
        const { session } = state;
        const memory = session.memoryMb === undefined ? "" : ` · ${session.memoryMb} MB`;
        const idle = session.idleTimeoutMs === undefined ? "" : ` · ends after ${formatDuration(session.idleTimeoutMs)} idle`;
        status.replaceChildren("Session ", element("code", {}, session.id), `${memory}${idle}`);
        return;
      }
      case "ended":
        status.replaceChildren(element("strong", {}, "Session ended: "), `${state.reason}. Run a cell to start a new one.`);
        return;
    }
  }
}

function formatDuration(ms: number): string {
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  if (ms % 1000 === 0) return `${ms / 1000} s`;
  return `${ms} ms`;
}
