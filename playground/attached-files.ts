import { byteLength, textOf } from "./input-file-content.js";
import type { InputFile } from "./run-request.js";

const bytes = (size: number): string => (size === 1 ? "1 byte" : `${size} bytes`);

/**
 * The form's input files: each with its path in the work dir (editable), its size, its content
 * to look at (read-only, folded) and a Remove button. `onEdit` hears every change the user makes.
 */
export class AttachedFiles {
  private attached: InputFile[] = [];

  constructor(
    private readonly list: HTMLUListElement,
    private readonly onEdit: () => void,
  ) {}

  /** A copy: the form read before an edit must not change with it. */
  get files(): readonly InputFile[] {
    return [...this.attached];
  }

  /** Replaces the list (an example, a restored draft); not an edit. */
  set files(files: readonly InputFile[]) {
    this.attached = [...files];
    this.render();
  }

  add(files: readonly InputFile[]): void {
    this.attached.push(...files);
    this.render();
    this.onEdit();
  }

  private render(): void {
    this.list.replaceChildren(...this.attached.map((file, index) => this.item(file, index)));
  }

  private item(file: InputFile, index: number): HTMLLIElement {
    const path = Object.assign(document.createElement("input"), { value: file.path, ariaLabel: "Path in the work dir", spellcheck: false });
    path.addEventListener("input", () => {
      this.attached[index] = { ...file, path: path.value };
      this.onEdit();
    });
    const remove = Object.assign(document.createElement("button"), { type: "button", textContent: "Remove", className: "secondary" });
    remove.addEventListener("click", () => {
      this.attached.splice(index, 1);
      this.render();
      this.onEdit();
    });
    const text = textOf(file);
    const size = Object.assign(document.createElement("span"), {
      className: "meta",
      textContent: text === undefined ? `${bytes(byteLength(file))}, binary` : bytes(byteLength(file)),
    });
    const row = Object.assign(document.createElement("div"), { className: "row" });
    row.append(path, size, remove);
    const item = document.createElement("li");
    item.append(row);
    if (text !== undefined) {
      const content = Object.assign(document.createElement("details"), { className: "content" });
      content.append(
        Object.assign(document.createElement("summary"), { textContent: "Content" }),
        Object.assign(document.createElement("pre"), { textContent: text }),
      );
      item.append(content);
    }
    return item;
  }
}
