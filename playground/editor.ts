import { indentWithTab } from "@codemirror/commands";
import { json } from "@codemirror/lang-json";
import { python } from "@codemirror/lang-python";
import { EditorState, type Extension, StateEffect, StateField } from "@codemirror/state";
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

const editorView = (parent: HTMLElement, doc: string, extensions: Extension[], label: string): EditorView =>
  new EditorView({
    parent,
    state: EditorState.create({
      doc,
      extensions: [basicSetup, keymap.of([indentWithTab]), EditorView.contentAttributes.of({ "aria-label": label }), ...extensions],
    }),
  });

/** The script editor: Python, with the failing line marked after a run that failed. */
export class ScriptEditor {
  private readonly view: EditorView;

  constructor(parent: HTMLElement, doc: string) {
    this.view = editorView(parent, doc, [python(), failingLine], "Python script");
  }

  get text(): string {
    return this.view.state.doc.toString();
  }

  set text(doc: string) {
    this.view.dispatch({ changes: { from: 0, to: this.view.state.doc.length, insert: doc }, effects: markFailingLine.of(null) });
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
}

/** The args editor: JSON. */
export class JsonEditor {
  private readonly view: EditorView;

  constructor(parent: HTMLElement, doc: string, label: string) {
    this.view = editorView(parent, doc, [json()], label);
  }

  get text(): string {
    return this.view.state.doc.toString();
  }

  set text(doc: string) {
    this.view.dispatch({ changes: { from: 0, to: this.view.state.doc.length, insert: doc } });
  }

  focus(): void {
    this.view.focus();
  }
}
