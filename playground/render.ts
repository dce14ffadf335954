import type { ErrorBody, ExecuteSuccessBody } from "../openapi/schemas.js";
import { base64ToBytes } from "./base64.js";
import { formatJson, parseExact } from "./exact-json.js";
import { failingLine } from "./failing-line.js";

type SuccessBody = ExecuteSuccessBody;
type FailureBody = ErrorBody;
type DataOut = Pick<SuccessBody, "files" | "filesTruncated" | "figures" | "figuresTruncated">;
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

const element = <K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}, ...children: (Node | string)[]) => {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
};

const section = (id: string, title: string, ...content: (Node | string)[]) =>
  element("section", { id, className: "block" }, element("h2", {}, title), ...content);

const bytes = (size: number): string =>
  size < 1024 ? `${size} B` : size < 1024 * 1024 ? `${(size / 1024).toFixed(1)} KiB` : `${(size / 1024 / 1024).toFixed(1)} MiB`;

/** Renders answers into the output panel; the download links of one answer live until the next. */
export class OutputPanel {
  private objectUrls: string[] = [];

  constructor(private readonly panel: HTMLElement) {}

  /** A line of status only: before the first run, while running, when cancelled, or when the service could not be reached. */
  showStatus(text: string, state: "idle" | "running" | "cancelled" | "failed"): void {
    this.clear();
    this.panel.append(element("p", { id: "status", className: `status ${state}` }, text));
  }

  show(answer: Answer, editor: FailureMarker): void {
    this.clear();
    let body: SuccessBody | FailureBody;
    try {
      body = JSON.parse(answer.text) as SuccessBody | FailureBody;
    } catch {
      this.panel.append(
        element("p", { id: "status", className: "status failed" }, `HTTP ${answer.status}: the answer is not JSON`),
        section("raw", "Answer", element("pre", {}, answer.text)),
      );
      return;
    }
    if ("code" in body) this.showFailure(answer, body, editor);
    else this.showSuccess(answer, body);
    this.showDataOut(body);
    this.showStream("stdout", body.stdout, body.stdoutTruncated);
    this.showStream("stderr", body.stderr, body.stderrTruncated);
  }

  private timing(answer: Answer, durationMs: number | undefined): string {
    const ran = durationMs === undefined ? "" : ` · ran ${durationMs} ms`;
    return `HTTP ${answer.status}${ran} · round trip ${Math.round(answer.roundTripMs)} ms`;
  }

  private showSuccess(answer: Answer, body: SuccessBody): void {
    // The result as the service spelled it (big integers, 23.0), not as JSON.parse would round it.
    const exact = parseExact(answer.text) as { result: unknown };
    this.panel.append(
      element("p", { id: "status", className: "status ok" }, element("strong", {}, "OK"), ` · ${this.timing(answer, body.durationMs)}`),
      section("result", "Result", element("pre", { className: "json" }, formatJson(exact.result))),
    );
  }

  private showFailure(answer: Answer, body: FailureBody, editor: FailureMarker): void {
    const line = failingLine(body);
    this.panel.append(
      element(
        "p",
        { id: "status", className: "status failed" },
        element("strong", { className: "code" }, body.code),
        ` · ${this.timing(answer, body.durationMs)}`,
      ),
      element(
        "p",
        { id: "error", className: "error-message" },
        body.error,
        line === undefined ? "" : element("span", { className: "where" }, ` (line ${line})`),
      ),
    );
    if (body.traceback) this.panel.append(section("traceback", "Traceback", element("pre", {}, body.traceback)));
    if (line !== undefined) editor.markFailingLine(line, body.error);
  }

  private showDataOut(body: DataOut): void {
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
      this.panel.append(section("figures", "Figures", element("div", { className: "figures" }, ...images), note));
    }
    if (body.files && body.files.length > 0) {
      const items = body.files.map((file) =>
        element("li", {}, this.fileLink(file), element("span", { className: "meta" }, ` ${bytes(file.size)} · ${file.mediaType}`)),
      );
      const note = body.filesTruncated
        ? element("p", { className: "note" }, "More than the response may carry: the files without a link were listed without their content.")
        : "";
      this.panel.append(section("files", "Files", element("ul", { className: "files" }, ...items), note));
    }
  }

  private fileLink(file: OutputFile): Node {
    if (file.content === undefined) return element("span", { className: "path", title: "Not returned: over the response's size limit" }, file.path);
    const data = file.encoding === "base64" ? base64ToBytes(file.content) : file.content;
    const url = URL.createObjectURL(new Blob([data], { type: file.mediaType }));
    this.objectUrls.push(url);
    return element("a", { href: url, download: file.path.split("/").at(-1) ?? file.path, className: "path" }, file.path);
  }

  private showStream(name: "stdout" | "stderr", text: string, truncated: boolean | undefined): void {
    const content = text === "" ? element("p", { className: "empty" }, "(nothing)") : element("pre", {}, text);
    const note = truncated ? element("p", { className: "note" }, `Cut at the service's limit (MAX_OUTPUT_BYTES).`) : "";
    this.panel.append(section(name, name, content, note));
  }

  private clear(): void {
    for (const url of this.objectUrls.splice(0)) URL.revokeObjectURL(url);
    this.panel.replaceChildren();
  }
}
