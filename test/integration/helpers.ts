import { readdir, readFile } from "node:fs/promises";
import { expect } from "vitest";
import { appOver, realSubprocessSandbox, testConfig } from "../support/real-app.js";

export type App = Awaited<ReturnType<typeof appOver>>;

/** The real app over the real subprocess sandbox, configured by these variables (defaults for the rest). */
export async function realApp(env: Record<string, string> = {}): Promise<App> {
  const config = testConfig(env);
  return appOver(realSubprocessSandbox(config), config);
}

/**
 * Python source written as it would be in a .py file: backslashes are kept as they are
 * (String.raw) and the common indentation is removed.
 */
export function py(strings: TemplateStringsArray, ...values: unknown[]): string {
  const text = String.raw(strings, ...values).replace(/^\n/, "");
  const lines = text.split("\n");
  const indents = lines.filter((line) => line.trim() !== "").map((line) => /^ */.exec(line)![0].length);
  const common = Math.min(...indents);
  return lines.map((line) => line.slice(common)).join("\n").replace(/[ ]+$/, "");
}

/** Asserts the HTTP status, showing the whole body when it is not the expected one. */
export function expectStatus(res: { status: number; text: string }, status: number): void {
  expect(res.status, `HTTP ${res.status}: ${res.text.slice(0, 2000)}`).toBe(status);
}

/** POSTs a body exactly as given (as curl -d would), with the given content type. */
export async function postRaw(app: App, body: string | Uint8Array, contentType: string | null = "application/json") {
  const headers: Record<string, string> = contentType === null ? {} : { "content-type": contentType };
  const response = await app.request("/execute", { method: "POST", headers, body: body as BodyInit });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, body: JSON.parse(text) as Record<string, any> };
}

/** A marker no other test (or run) will ever print or pass as an argument. */
export const uniqueMarker = (): string => `${process.pid}${Date.now()}${Math.floor(Math.random() * 1e9)}`;

async function readProc(pid: string, file: string): Promise<string> {
  try {
    return await readFile(`/proc/${pid}/${file}`, "latin1");
  } catch {
    return ""; // gone meanwhile, or a kernel thread
  }
}

/** Live processes whose command line or initial environment contains `needle`. */
export async function processesMatching(needle: string): Promise<{ pid: number; cmdline: string }[]> {
  const found: { pid: number; cmdline: string }[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cmdline = await readProc(entry, "cmdline");
    const environ = await readProc(entry, "environ");
    if (cmdline.includes(needle) || environ.includes(needle)) found.push({ pid: Number(entry), cmdline: cmdline.replaceAll("\0", " ") });
  }
  return found;
}

/**
 * Polls briefly until no process matches `needle` and returns what still matches then.
 * Processes are killed before the response is sent; the polling only absorbs the kernel's
 * own delay in tearing them down.
 */
export async function survivorsMatching(needle: string, attempts = 40, intervalMs = 50) {
  let survivors = await processesMatching(needle);
  for (let i = 0; i < attempts && survivors.length > 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
    survivors = await processesMatching(needle);
  }
  return survivors;
}
