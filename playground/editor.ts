import { indentWithTab } from "@codemirror/commands";
import { json } from "@codemirror/lang-json";
import { python } from "@codemirror/lang-python";
import { Annotation, EditorState, type Extension, Prec, StateEffect, StateField } from "@codemirror/state";
import { Decoration, type DecorationSet, EditorView, keymap } from "@codemirror/view";
import { basicSetup } from "codemirror";

/** Marks one line as the one the script failed on (with the error as its tooltip), or clears the mark. */
const markFailingLine = StateEffect.define<{ line: number; message: string } | null>();

const failingLine = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(marks, transaction) {
    let next = marks.map(transaction.changes);
    for (const effect of transaction.effects) {
      if (!effect.is(markFailingLine)) continue;
      const mark = effect.value;
      if (mark === null || mark.line > transaction.state.doc.lines) {
        next = Decoration.none;
        continue;
      }
      const line = transaction.state.doc.line(mark.line);
      next = Decoration.set([Decoration.line({ class: "cm-failing-line", attributes: { title: mark.message } }).range(line.from)]);
    }
    return next;
  },
  provide: (field) => EditorView.decorations.from(field),
});

/** Marks a document the page put in (an example, a restored draft): not an edit of the user's. */
const setByPage = Annotation.define<true>();

/** Calls `onEdit` after each change of the document but those the page made. */
const userEdits = (onEdit: () => void): Extension =>
  EditorView.updateListener.of((update) => {
    if (update.docChanged && !update.transactions.some((transaction) => transaction.annotation(setByPage))) onEdit();
  });

const editorView = (parent: HTMLElement, extensions: Extension[], label: string, onEdit: () => void): EditorView =>
  new EditorView({
    parent,
    state: EditorState.create({
      extensions: [basicSetup, keymap.of([indentWithTab]), EditorView.contentAttributes.of({ "aria-label": label }), userEdits(onEdit), ...extensions],
    }),
  });

const replaceDocument = (view: EditorView, doc: string, effects: StateEffect<unknown>[] = []): void =>
  view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: doc }, effects, annotations: setByPage.of(true) });

/** What a notebook cell's keys do, before the editor's own bindings. */
export interface CellKeys {
  /** Ctrl+Enter (⌘+Enter): run the cell. */
  run(): void;
  /** Shift+Enter: run the cell and move to the next one. */
  runAndAdvance(): void;
}

const cellKeymap = (keys: CellKeys): Extension =>
  Prec.highest(
    keymap.of([
      {
        key: "Shift-Enter",
        run: () => {
          keys.runAndAdvance();
          return true;
        },
      },
      {
        key: "Mod-Enter",
        run: () => {
          keys.run();
          return true;
        },
      },
    ]),
  );

/** The script editor: Python, with the failing line marked after a run that failed; a notebook's cells are ones too, with their keys. */
export class ScriptEditor {
  private readonly view: EditorView;

  constructor(parent: HTMLElement, onEdit: () => void, cell?: { readonly label: string; readonly keys: CellKeys }) {
    const extensions = [python(), failingLine, ...(cell ? [cellKeymap(cell.keys)] : [])];
    this.view = editorView(parent, extensions, cell?.label ?? "Python script", onEdit);
  }

  get text(): string {
    return this.view.state.doc.toString();
  }

  /** Replaces the script (not an edit: onEdit does not hear it) and clears the failing line's mark. */
  set text(doc: string) {
    replaceDocument(this.view, doc, [markFailingLine.of(null)]);
  }

  markFailingLine(line: number, message: string): void {
    if (line < 1 || line > this.view.state.doc.lines) return;
    const at = this.view.state.doc.line(line).from;
    this.view.dispatch({ effects: [markFailingLine.of({ line, message }), EditorView.scrollIntoView(at, { y: "center" })] });
  }

  clearMark(): void {
    this.view.dispatch({ effects: markFailingLine.of(null) });
  }

  focus(): void {
    this.view.focus();
  }

  get hasFocus(): boolean {
    return this.view.hasFocus;
  }
}

/** The args editor: JSON. */
export class JsonEditor {
  private readonly view: EditorView;

  constructor(parent: HTMLElement, label: string, onEdit: () => void) {
    this.view = editorView(parent, [json()], label, onEdit);
  }

  get text(): string {
    return this.view.state.doc.toString();
  }

  /** Replaces the JSON (not an edit: onEdit does not hear it). */
  set text(doc: string) {
    replaceDocument(this.view, doc);
  }

  focus(): void {
    this.view.focus();
  }
}
