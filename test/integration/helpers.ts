import { access, readdir, readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import type { SandboxPort } from "../../domain/sandbox.port.js";
import { PrewarmedPool } from "../../adapters/pool/prewarmed-pool.js";
import type { SandboxMode } from "../../src/config.js";
import { pooled, startSandbox } from "../../src/sandbox-factory.js";
import { nsjailSandbox } from "../support/nsjail.js";
import { appOver, realSubprocessSandbox, runtime, silentLogger, testConfig } from "../support/real-app.js";

/** What the tests need of the app: requests through `app.request()`, no socket. */
export interface App {
  request(path: string, init?: RequestInit): Response | Promise<Response>;
}

/**
 * A sandbox backend an integration suite runs over. The pooled ones hand every request of a
 * suite a sandbox that was pre-started before it (POOL_SIZE=1, and each request first waits
 * for the pool to be full), as production does by default. "nsjail" is a jail per run,
 * "nsjail zygote" a fork server's child per run (SANDBOX_MODE).
 */
export interface Backend {
  readonly name: BackendName;
  readonly kind: "subprocess" | "nsjail";
  readonly pooled: boolean;
  readonly mode: SandboxMode;
}

export type BackendName = "subprocess" | "nsjail" | "nsjail zygote" | "subprocess pooled" | "nsjail pooled";

const BACKENDS: Record<BackendName, Backend> = {
  subprocess: { name: "subprocess", kind: "subprocess", pooled: false, mode: "jail-per-run" },
  nsjail: { name: "nsjail", kind: "nsjail", pooled: false, mode: "jail-per-run" },
  "nsjail zygote": { name: "nsjail zygote", kind: "nsjail", pooled: false, mode: "zygote" },
  "subprocess pooled": { name: "subprocess pooled", kind: "subprocess", pooled: true, mode: "jail-per-run" },
  "nsjail pooled": { name: "nsjail pooled", kind: "nsjail", pooled: true, mode: "jail-per-run" },
};

let nsjailUnavailable: Promise<string | undefined> | undefined;

/** Why nsjail cannot run here (undefined when it can); checked once per test file. */
function whyNsjailIsUnavailable(): Promise<string | undefined> {
  nsjailUnavailable ??= nsjailSandbox({ POOL_SIZE: "0", SANDBOX_MODE: "jail-per-run" }).then(async (sandbox) => {
    if (typeof sandbox === "string") return sandbox;
    await sandbox.close();
    return undefined;
  });
  return nsjailUnavailable;
}

/**
 * The backends of a parametrized suite (`describe.each(await backends(...))`) that can run
 * here. An nsjail backend that cannot becomes a skipped suite naming the reason, with a loud
 * warning; with REQUIRE_NSJAIL=1 (CI) it fails the file instead (see test/support/nsjail.ts).
 */
export async function backends(...names: BackendName[]): Promise<Backend[]> {
  const runnable: Backend[] = [];
  for (const name of names) {
    const backend = BACKENDS[name];
    const reason = backend.kind === "nsjail" ? await whyNsjailIsUnavailable() : undefined;
    if (reason === undefined) {
      runnable.push(backend);
      continue;
    }
    describe.skip(`${name} (unavailable here)`, () => {
      it(`skipped: ${reason}`, () => {
        expect.unreachable();
      });
    });
  }
  return runnable;
}

/** Sandboxes started by realApp() in this file; close them with closeSandboxes() in an afterAll. */
const opened: SandboxPort[] = [];
const pools = new WeakMap<App, PrewarmedPool>();

/**
 * The real app over a real sandbox of `backend` (default: the subprocess backend without a
 * pool), configured by these variables (defaults for the rest). An nsjail backend is built as
 * the server builds it (startSandbox, whose startup probe runs one jailed script).
 */
export async function realApp(env: Record<string, string> = {}, backend: Backend = BACKENDS.subprocess): Promise<App> {
  const config = testConfig({ SANDBOX_BACKEND: backend.kind, SANDBOX_MODE: backend.mode, POOL_SIZE: backend.pooled ? "1" : "0", ...env });
  const sandbox =
    backend.kind === "nsjail"
      ? (await startSandbox(config, runtime(), silentLogger)).sandbox
      : pooled(realSubprocessSandbox(config), config, silentLogger);
  opened.push(sandbox);
  const app = await appOver(sandbox, config);
  if (!(sandbox instanceof PrewarmedPool)) return app;
  const waitingForThePool: App = {
    async request(path, init) {
      await sandbox.whenFull();
      return app.request(path, init);
    },
  };
  pools.set(waitingForThePool, sandbox);
  return waitingForThePool;
}

/** The pool behind an app of a pooled backend. */
export function poolOf(app: App): PrewarmedPool {
  const pool = pools.get(app);
  if (!pool) throw new Error("this app has no pool");
  return pool;
}

/** Closes every sandbox realApp() started (pre-started ones are killed). */
export async function closeSandboxes(): Promise<void> {
  await Promise.all(opened.splice(0).map((sandbox) => sandbox.close()));
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

type FoundProcesses = { pid: number; cmdline: string }[];

/** Live processes whose command line or initial environment contains `needle`. */
export async function processesMatching(needle: string): Promise<FoundProcesses> {
  const found: FoundProcesses = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cmdline = await readProc(entry, "cmdline");
    const environ = await readProc(entry, "environ");
    if (cmdline.includes(needle) || environ.includes(needle)) found.push({ pid: Number(entry), cmdline: cmdline.replaceAll("\0", " ") });
  }
  return found;
}

/**
 * Live processes that see `path` in their own view of the filesystem (through /proc/<pid>/root,
 * so inside their mount namespace): in a jail, the processes that see a file of a unique name
 * in the work dir are that run's. Needs root, like reading other users' /proc entries.
 */
export async function processesSeeing(path: string): Promise<FoundProcesses> {
  const found: FoundProcesses = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      await access(`/proc/${entry}/root${path}`);
    } catch {
      continue; // not there, gone meanwhile, or a kernel thread
    }
    found.push({ pid: Number(entry), cmdline: (await readProc(entry, "cmdline")).replaceAll("\0", " ") });
  }
  return found;
}

/**
 * Polls briefly until `find` finds no process and returns what it still finds then.
 * Processes are killed before the response is sent; the polling only absorbs the kernel's
 * own delay in tearing them down.
 */
async function survivors(find: () => Promise<FoundProcesses>, attempts: number, intervalMs: number) {
  let found = await find();
  for (let i = 0; i < attempts && found.length > 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
    found = await find();
  }
  return found;
}

/** The processes still matching `needle` (see processesMatching) once the kernel had time to tear them down. */
export const survivorsMatching = (needle: string, attempts = 40, intervalMs = 50) =>
  survivors(() => processesMatching(needle), attempts, intervalMs);

/** The processes still seeing `path` (see processesSeeing) once the kernel had time to tear them down. */
export const survivorsSeeing = (path: string, attempts = 40, intervalMs = 50) =>
  survivors(() => processesSeeing(path), attempts, intervalMs);
