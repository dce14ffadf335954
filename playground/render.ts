import type { ErrorBody, ExecuteSuccessBody } from "../openapi/schemas.js";
import { base64ToBytes } from "./base64.js";
import { formatJson, parseExact } from "./exact-json.js";
import { failingLine } from "./failing-line.js";

type SuccessBody = ExecuteSuccessBody;
type FailureBody = ErrorBody;
export type DataOut = Pick<SuccessBody, "files" | "filesTruncated" | "figures" | "figuresTruncated">;
type OutputFile = NonNullable<SuccessBody["files"]>[number];

/** An answer of POST /execute, as received. */
export interface Answer {
  readonly status: number;
  readonly text: string;
  /** From the click to the last byte, as the page measured it. */
  readonly roundTripMs: number;
}

/** Where a failure is shown in the script. */
export interface FailureMarker {
  markFailingLine(line: number, message: string): void;
}

export const element = <K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}, ...children: (Node | string)[]) => {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
};

const bytes = (size: number): string =>
  size < 1024 ? `${size} B` : size < 1024 * 1024 ? `${(size / 1024).toFixed(1)} KiB` : `${(size / 1024 / 1024).toFixed(1)} MiB`;

/** The status line's timing: the HTTP status, the run's own duration when the answer has one, and the round trip. */
export function timing(status: number, durationMs: number | undefined, roundTripMs: number): string {
  const ran = durationMs === undefined ? "" : ` · ran ${durationMs} ms`;
  return `HTTP ${status}${ran} · round trip ${Math.round(roundTripMs)} ms`;
}

/**
 * The pieces an answer is shown with: status line, result, error and traceback, figures, files,
 * streams. In the script's output panel (one answer on the page) each piece has its id
 * (#status, #result, #figures, ...); in a notebook, where each cell shows an answer, none has
 * one, and a piece is found by its class (.status, .block-result, .block-figures, ...). The
 * download links made for files live until revoke().
 */
export class AnswerBlocks {
  private objectUrls: string[] = [];

  constructor(private readonly withIds: boolean) {}

  /** A titled block, class `block block-NAME` (and id NAME in the output panel). */
  section(name: string, title: string, ...content: (Node | string)[]): HTMLElement {
    return element("section", { ...this.id(name), className: `block block-${name}` }, element("h2", {}, title), ...content);
  }

  status(state: string, ...content: (Node | string)[]): HTMLElement {
    return element("p", { ...this.id("status"), className: `status ${state}` }, ...content);
  }

  /** A JSON result, formatted, each number as the service spelled it. */
  jsonResult(result: unknown): HTMLElement {
    return this.section("result", "Result", element("pre", { className: "json" }, formatJson(result)));
  }

  /** A failure's message (with the failing line when there is one) and its traceback. */
  failure(body: Pick<FailureBody, "error" | "traceback">, line: number | undefined): Node[] {
    const nodes: Node[] = [
      element(
        "p",
        { ...this.id("error"), className: "error-message" },
        body.error,
        line === undefined ? "" : element("span", { className: "where" }, ` (line ${line})`),
      ),
    ];
    if (body.traceback) nodes.push(this.section("traceback", "Traceback", element("pre", {}, body.traceback)));
    return nodes;
  }

  /** Figures as images and the files the run wrote as download links: none, one or two blocks. */
  dataOut(body: DataOut): Node[] {
    const nodes: Node[] = [];
    if (body.figures && body.figures.length > 0) {
      const images = body.figures.map((figure, i) =>
        element("img", {
          src: `data:${figure.mediaType};base64,${figure.content}`,
          alt: `Figure ${i + 1} (${figure.width}×${figure.height})`,
          width: figure.width,
          height: figure.height,
        }),
      );
      const note = body.figuresTruncated
        ? element("p", { className: "note" }, "More figures than the response may carry: the rest were left out (MAX_FIGURES).")
        : "";
      nodes.push(this.section("figures", "Figures", element("div", { className: "figures" }, ...images), note));
    }
    if (body.files && body.files.length > 0) {
      const items = body.files.map((file) =>
        element("li", {}, this.fileLink(file), element("span", { className: "meta" }, ` ${bytes(file.size)} · ${file.mediaType}`)),
      );
      const note = body.filesTruncated
        ? element("p", { className: "note" }, "More than the response may carry: the files without a link were listed without their content.")
        : "";
      nodes.push(this.section("files", "Files", element("ul", { className: "files" }, ...items), note));
    }
    return nodes;
  }

  /** stdout or stderr; `whenEmpty` false leaves an empty stream out (a notebook cell shows only what it printed). */
  stream(name: "stdout" | "stderr", text: string, truncated: boolean | undefined, whenEmpty = true): Node[] {
    if (text === "" && !truncated && !whenEmpty) return [];
    const content = text === "" ? element("p", { className: "empty" }, "(nothing)") : element("pre", {}, text);
    const note = truncated ? element("p", { className: "note" }, `Cut at the service's limit (MAX_OUTPUT_BYTES).`) : "";
    return [this.section(name, name, content, note)];
  }

  /** Lets the download links made so far go. */
  revoke(): void {
    for (const url of this.objectUrls.splice(0)) URL.revokeObjectURL(url);
  }

  private id(name: string): { id?: string } {
    return this.withIds ? { id: name } : {};
  }

  private fileLink(file: OutputFile): Node {
    if (file.content === undefined) return element("span", { className: "path", title: "Not returned: over the response's size limit" }, file.path);
    const data = file.encoding === "base64" ? base64ToBytes(file.content) : file.content;
    const url = URL.createObjectURL(new Blob([data], { type: file.mediaType }));
    this.objectUrls.push(url);
    return element("a", { href: url, download: file.path.split("/").at(-1) ?? file.path, className: "path" }, file.path);
  }
}

/** Renders answers into the output panel; the download links of one answer live until the next. */
export class OutputPanel {
  private readonly blocks = new AnswerBlocks(true);

  constructor(private readonly panel: HTMLElement) {}

  /** A line of status only: before the first run, while running, when cancelled, or when the service could not be reached. */
  showStatus(text: string, state: "idle" | "running" | "cancelled" | "failed"): void {
    this.clear();
    this.panel.append(this.blocks.status(state, text));
  }

  show(answer: Answer, editor: FailureMarker): void {
    this.clear();
    let body: SuccessBody | FailureBody;
    try {
      body = JSON.parse(answer.text) as SuccessBody | FailureBody;
    } catch {
      this.panel.append(
        this.blocks.status("failed", `HTTP ${answer.status}: the answer is not JSON`),
        this.blocks.section("raw", "Answer", element("pre", {}, answer.text)),
      );
      return;
    }
    if ("code" in body) this.showFailure(answer, body, editor);
    else this.showSuccess(answer, body);
    this.panel.append(
      ...this.blocks.dataOut(body),
      ...this.blocks.stream("stdout", body.stdout, body.stdoutTruncated),
      ...this.blocks.stream("stderr", body.stderr, body.stderrTruncated),
    );
  }

  private showSuccess(answer: Answer, body: SuccessBody): void {
    // The result as the service spelled it (big integers, 23.0), not as JSON.parse would round it.
    const exact = parseExact(answer.text) as { result: unknown };
    this.panel.append(
      this.blocks.status("ok", element("strong", {}, "OK"), ` · ${timing(answer.status, body.durationMs, answer.roundTripMs)}`),
      this.blocks.jsonResult(exact.result),
    );
  }

  private showFailure(answer: Answer, body: FailureBody, editor: FailureMarker): void {
    const line = failingLine(body);
    this.panel.append(
      this.blocks.status("failed", element("strong", { className: "code" }, body.code), ` · ${timing(answer.status, body.durationMs, answer.roundTripMs)}`),
      ...this.blocks.failure(body, line),
    );
    if (line !== undefined) editor.markFailingLine(line, body.error);
  }

  private clear(): void {
    this.blocks.revoke();
    this.panel.replaceChildren();
  }
}
