import { AttachedFiles } from "./attached-files.js";
import { bytesToBase64 } from "./base64.js";
import { dropDraft, loadDraft, saveDraft } from "./draft.js";
import { JsonEditor, ScriptEditor } from "./editor.js";
import { afterEdit, exampleForm, exampleOf, limitsOf } from "./example-state.js";
import { EXAMPLES, type Example } from "./examples.js";
import { Notebook } from "./notebook.js";
import { loadMode, type Mode, saveMode } from "./notebook-draft.js";
import { OutputPanel } from "./render.js";
import { type InputFile, type RunForm, requestBody, requestHeaders } from "./run-request.js";

/** The API key lives in this tab's sessionStorage only: gone when the tab closes, never sent anywhere but /execute. */
const API_KEY_ITEM = "python-exec-service.apiKey";

/** The menu's value for a form that is no example: edited, or the user's own draft. */
const YOUR_SCRIPT = "";

const byId = <T extends HTMLElement>(id: string): T => {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no #${id}`);
  return found as T;
};

const runButton = byId<HTMLButtonElement>("run");
const cancelButton = byId<HTMLButtonElement>("cancel");
const exampleSelect = byId<HTMLSelectElement>("example");
const authBar = byId<HTMLElement>("auth");
const apiKeyInput = byId<HTMLInputElement>("api-key");
const fileInput = byId<HTMLInputElement>("file-input");
const filesNotKept = byId<HTMLElement>("files-not-kept");
const timeoutInput = byId<HTMLInputElement>("timeout");
const memoryInput = byId<HTMLInputElement>("memory");
const limitsNote = byId<HTMLElement>("limits-note");
const formError = byId<HTMLElement>("form-error");
const inputs = byId<HTMLDetailsElement>("inputs");
const yourScript = new Option("Your script", YOUR_SCRIPT);
const modeTabs: Record<Mode, HTMLButtonElement> = { script: byId("mode-script"), notebook: byId("mode-notebook") };
const modePanels: Record<Mode, HTMLElement[]> = { script: [byId("script-mode"), byId("script-controls")], notebook: [byId("notebook")] };

const editor = new ScriptEditor(byId("editor"), edited);
const argsEditor = new JsonEditor(byId("args"), "args, a JSON object", edited);
const attached = new AttachedFiles(byId("input-files"), edited);
const output = new OutputPanel(byId("output"));
/** The form as the page last showed it: what the next edit changes. */
let shown: RunForm = readForm();
/** The example whose limits the user's edit cleared, named in the form until the limits or the example change. */
let clearedLimitsOf: Example | undefined;
/** The run in progress, which Cancel aborts. */
let running: AbortController | undefined;
/** The page's mode: one script per run, or the notebook's cells in one session. */
let mode: Mode = "script";
/** Made the first time notebook mode is shown: script mode has no cells, no session. */
let notebook: Notebook | undefined;

function readForm(): RunForm {
  return { script: editor.text, args: argsEditor.text, files: attached.files, timeoutMs: timeoutInput.value, memoryMb: memoryInput.value };
}

function fill(form: RunForm): void {
  editor.text = form.script;
  argsEditor.text = form.args;
  attached.files = form.files;
  timeoutInput.value = form.timeoutMs;
  memoryInput.value = form.memoryMb;
  if (form.args !== "" || form.files.length > 0 || form.timeoutMs !== "" || form.memoryMb !== "") inputs.open = true;
  showFormError(undefined);
  output.showStatus("Press Run (Ctrl+Enter, ⌘+Enter on a Mac) to run the script.", "idle");
}

/** Which example the form is, in the menu and the address (else "Your script" and no #name), and whose its limits are. */
function show(form: RunForm): void {
  shown = form;
  const example = exampleOf(form, EXAMPLES);
  yourScript.hidden = example !== undefined;
  exampleSelect.value = example?.id ?? YOUR_SCRIPT;
  history.replaceState(null, "", example ? `#${example.id}` : location.pathname + location.search);
  const limits = example && limitsOf(example);
  if (limits) limitsNote.textContent = `The example's limit (${limits}): cleared when you change its script, args or files.`;
  else if (clearedLimitsOf)
    limitsNote.textContent = `The example's limit (${limitsOf(clearedLimitsOf)}) was cleared when you changed it: blank is the server's default.`;
  limitsNote.hidden = !limits && !clearedLimitsOf;
}

function loadExample(example: Example): void {
  clearedLimitsOf = undefined;
  fill(exampleForm(example));
  show(readForm());
}

/** An example chosen in the menu or named by a changed address: it replaces the draft. */
function chooseExample(example: Example): void {
  loadExample(example);
  dropDraft(localStorage);
  filesNotKept.hidden = true;
}

function edited(): void {
  const before = shown;
  const { form, clearedLimitsOf: cleared } = afterEdit(before, readForm(), EXAMPLES);
  if (cleared) {
    timeoutInput.value = form.timeoutMs;
    memoryInput.value = form.memoryMb;
    clearedLimitsOf = cleared;
  } else if (form.timeoutMs !== before.timeoutMs || form.memoryMb !== before.memoryMb) {
    clearedLimitsOf = undefined;
  }
  show(form);
  filesNotKept.hidden = saveDraft(localStorage, form) !== "without-files";
}

function showFormError(message: string | undefined): void {
  formError.textContent = message ?? "";
  formError.hidden = message === undefined;
}

function showRunning(on: boolean): void {
  if (!on && document.activeElement === cancelButton) runButton.focus();
  runButton.disabled = on;
  runButton.textContent = on ? "Running…" : "Run";
  cancelButton.hidden = !on;
}

async function run(): Promise<void> {
  if (running) return;
  const built = requestBody(readForm());
  if (!built.ok) {
    inputs.open = true;
    showFormError(built.message);
    return;
  }
  showFormError(undefined);
  editor.clearMark();
  const controller = new AbortController();
  running = controller;
  showRunning(true);
  output.showStatus("Running…", "running");
  const headers = requestHeaders(apiKeyInput.value);
  const startedAt = performance.now();
  try {
    const response = await fetch("/execute", { method: "POST", headers, body: JSON.stringify(built.body), signal: controller.signal });
    const text = await response.text();
    output.show({ status: response.status, text, roundTripMs: performance.now() - startedAt }, editor);
    if (response.status === 401) showUnauthorized();
  } catch (error) {
    if (controller.signal.aborted) {
      output.showStatus(`Cancelled after ${Math.round(performance.now() - startedAt)} ms: the service stops a run whose client has gone.`, "cancelled");
    } else {
      output.showStatus(`Could not reach the service: ${(error as Error).message}`, "failed");
    }
  } finally {
    running = undefined;
    showRunning(false);
  }
}

function showUnauthorized(): void {
  authBar.hidden = false;
  apiKeyInput.focus();
}

function showMode(next: Mode): void {
  mode = next;
  for (const [name, tab] of Object.entries(modeTabs) as [Mode, HTMLButtonElement][]) {
    tab.setAttribute("aria-selected", String(name === next));
    for (const panel of modePanels[name]) panel.hidden = name !== next;
  }
  if (next === "notebook") {
    notebook ??= new Notebook(
      { cells: byId("cells"), sessionStatus: byId("session-status"), restart: byId("restart"), addCell: byId("add-cell") },
      { fetch: (url, init) => fetch(url, init), apiKey: () => apiKeyInput.value, unauthorized: showUnauthorized, storage: localStorage },
    );
    notebook.focus();
  } else {
    editor.focus();
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
  exampleSelect.append(yourScript);
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

const exampleNamed = (hash: string): Example | undefined => EXAMPLES.find((example) => `#${example.id}` === hash);

populateExamples();
// The example the address names (/#plot), else the user's draft, else the first example.
const named = exampleNamed(location.hash);
const draft = named ? undefined : loadDraft(localStorage);
const [first] = EXAMPLES;
if (named) loadExample(named);
else if (draft) {
  fill(draft);
  show(draft);
} else if (first) loadExample(first);

window.addEventListener("hashchange", () => {
  const example = exampleNamed(location.hash);
  if (example) chooseExample(example);
});
exampleSelect.addEventListener("change", () => {
  const example = EXAMPLES.find((candidate) => candidate.id === exampleSelect.value);
  if (example) chooseExample(example);
});
runButton.addEventListener("click", () => void run());
cancelButton.addEventListener("click", () => running?.abort());
// Ctrl/Cmd+Enter runs from anywhere on the page; caught before the editors, which would insert a line.
window.addEventListener(
  "keydown",
  (event) => {
    // In the notebook a cell's own keys run it.
    if (mode !== "script" || event.key !== "Enter" || !(event.ctrlKey || event.metaKey)) return;
    event.preventDefault();
    event.stopPropagation();
    void run();
  },
  { capture: true },
);
fileInput.addEventListener("change", async () => {
  const files = [...(fileInput.files ?? [])];
  fileInput.value = "";
  attached.add(await Promise.all(files.map(readAttachment)));
});
for (const limit of [timeoutInput, memoryInput]) limit.addEventListener("input", edited);
apiKeyInput.value = sessionStorage.getItem(API_KEY_ITEM) ?? "";
apiKeyInput.addEventListener("input", () => sessionStorage.setItem(API_KEY_ITEM, apiKeyInput.value));
for (const [name, tab] of Object.entries(modeTabs) as [Mode, HTMLButtonElement][])
  tab.addEventListener("click", () => {
    saveMode(localStorage, name);
    showMode(name);
  });
void discoverAuth();
showMode(loadMode(localStorage));
