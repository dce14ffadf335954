import { bytesToBase64 } from "./base64.js";
import { JsonEditor, ScriptEditor } from "./editor.js";
import { EXAMPLES, type Example } from "./examples.js";
import { OutputPanel } from "./render.js";
import { type InputFile, requestBody } from "./run-request.js";

/** The API key lives in this tab's sessionStorage only: gone when the tab closes, never sent anywhere but /execute. */
const API_KEY_ITEM = "python-exec-service.apiKey";

const byId = <T extends HTMLElement>(id: string): T => {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no #${id}`);
  return found as T;
};

const runButton = byId<HTMLButtonElement>("run");
const exampleSelect = byId<HTMLSelectElement>("example");
const authBar = byId<HTMLElement>("auth");
const apiKeyInput = byId<HTMLInputElement>("api-key");
const fileInput = byId<HTMLInputElement>("file-input");
const fileList = byId<HTMLUListElement>("files");
const timeoutInput = byId<HTMLInputElement>("timeout");
const memoryInput = byId<HTMLInputElement>("memory");
const formError = byId<HTMLElement>("form-error");
const inputs = byId<HTMLDetailsElement>("inputs");

const editor = new ScriptEditor(byId("editor"), "");
const argsEditor = new JsonEditor(byId("args"), "", "args, a JSON object");
const output = new OutputPanel(byId("output"));
let attached: InputFile[] = [];
let running = false;

function showFormError(message: string | undefined): void {
  formError.textContent = message ?? "";
  formError.hidden = message === undefined;
}

function renderAttached(): void {
  fileList.replaceChildren(
    ...attached.map((file, index) => {
      const path = Object.assign(document.createElement("input"), { value: file.path, ariaLabel: "Path in the work dir", spellcheck: false });
      path.addEventListener("input", () => (attached[index] = { ...file, path: path.value }));
      const remove = Object.assign(document.createElement("button"), { type: "button", textContent: "Remove", className: "secondary" });
      remove.addEventListener("click", () => {
        attached.splice(index, 1);
        renderAttached();
      });
      const size = file.encoding === "base64" ? Math.floor((file.content.length * 3) / 4) : new TextEncoder().encode(file.content).length;
      const item = document.createElement("li");
      item.append(path, Object.assign(document.createElement("span"), { className: "meta", textContent: `${size} B` }), remove);
      return item;
    }),
  );
}

function loadExample(example: Example): void {
  editor.text = example.script;
  argsEditor.text = example.args === undefined ? "" : JSON.stringify(example.args, null, 2);
  attached = [...(example.files ?? [])];
  renderAttached();
  timeoutInput.value = example.timeoutMs === undefined ? "" : String(example.timeoutMs);
  memoryInput.value = "";
  if (example.args !== undefined || example.files !== undefined || example.timeoutMs !== undefined) inputs.open = true;
  exampleSelect.value = example.id;
  showFormError(undefined);
  output.showStatus("Press Run (Ctrl+Enter, ⌘+Enter on a Mac) to run the script.", "idle");
}

async function run(): Promise<void> {
  if (running) return;
  const built = requestBody({
    script: editor.text,
    args: argsEditor.text,
    files: attached,
    timeoutMs: timeoutInput.value,
    memoryMb: memoryInput.value,
  });
  if (!built.ok) {
    inputs.open = true;
    showFormError(built.message);
    return;
  }
  showFormError(undefined);
  editor.clearMark();
  running = true;
  runButton.disabled = true;
  runButton.textContent = "Running…";
  output.showStatus("Running…", "running");
  const headers: Record<string, string> = { "content-type": "application/json" };
  const key = apiKeyInput.value.trim();
  if (key !== "") headers.authorization = `Bearer ${key}`;
  const startedAt = performance.now();
  try {
    const response = await fetch("/execute", { method: "POST", headers, body: JSON.stringify(built.body) });
    const text = await response.text();
    output.show({ status: response.status, text, roundTripMs: performance.now() - startedAt }, editor);
    if (response.status === 401) {
      authBar.hidden = false;
      apiKeyInput.focus();
    }
  } catch (error) {
    output.showStatus(`Could not reach the service: ${(error as Error).message}`, "failed");
  } finally {
    running = false;
    runButton.disabled = false;
    runButton.textContent = "Run";
  }
}

async function readAttachment(file: File): Promise<InputFile> {
  return { path: file.name, content: bytesToBase64(new Uint8Array(await file.arrayBuffer())), encoding: "base64" };
}

/** Whether /execute wants a key: the OpenAPI document declares it, as it does for Swagger UI. */
async function discoverAuth(): Promise<void> {
  try {
    const doc = (await (await fetch("/openapi.json")).json()) as { paths?: Record<string, { post?: { security?: unknown[] } }> };
    if ((doc.paths?.["/execute"]?.post?.security ?? []).length > 0) authBar.hidden = false;
  } catch {
    // Without the document the key field appears on the first 401.
  }
}

function populateExamples(): void {
  const groups = new Map<string, HTMLOptGroupElement>();
  for (const example of EXAMPLES) {
    let group = groups.get(example.group);
    if (!group) {
      group = Object.assign(document.createElement("optgroup"), { label: example.group });
      groups.set(example.group, group);
      exampleSelect.append(group);
    }
    group.append(new Option(example.title, example.id));
  }
}

populateExamples();
// The example the address names (/#plot), else the first.
const [first] = EXAMPLES;
const requested = EXAMPLES.find((example) => `#${example.id}` === location.hash) ?? first;
if (requested) loadExample(requested);

exampleSelect.addEventListener("change", () => {
  const example = EXAMPLES.find((candidate) => candidate.id === exampleSelect.value);
  if (example) {
    loadExample(example);
    history.replaceState(null, "", `#${example.id}`);
  }
});
runButton.addEventListener("click", () => void run());
// Ctrl/Cmd+Enter runs from anywhere on the page; caught before the editors, which would insert a line.
window.addEventListener(
  "keydown",
  (event) => {
    if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey)) return;
    event.preventDefault();
    event.stopPropagation();
    void run();
  },
  { capture: true },
);
fileInput.addEventListener("change", async () => {
  const files = [...(fileInput.files ?? [])];
  fileInput.value = "";
  attached.push(...(await Promise.all(files.map(readAttachment))));
  renderAttached();
});
apiKeyInput.value = sessionStorage.getItem(API_KEY_ITEM) ?? "";
apiKeyInput.addEventListener("input", () => sessionStorage.setItem(API_KEY_ITEM, apiKeyInput.value));
void discoverAuth();
editor.focus();
