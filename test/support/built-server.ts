import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { projectRoot } from "../../src/project-paths.js";
import { processesIn } from "./processes.js";

/**
 * Compiles the server as `npm run build` does, into a directory of this test file's own
 * (inside the repository, so the server finds its project root, .venv and harness), so
 * test files running in parallel never read each other's half-written output.
 */
export async function buildServer(): Promise<{ mainJs: string; remove: () => Promise<void> }> {
  const root = projectRoot();
  const outDir = join(root, "node_modules", ".cache", `pyexec-build-${randomUUID()}`);
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json"), "--outDir", outDir], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`tsc failed (${code}):\n${output}`))));
  });
  return { mainJs: join(outDir, "src", "main.js"), remove: () => rm(outDir, { recursive: true, force: true }) };
}

interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [field: string]: unknown;
}

export interface RunningServer {
  readonly child: ChildProcess;
  readonly url: string;
  /** The temp directory the server's sandboxes make their work dirs in (its TMPDIR). */
  readonly tmpDir: string;
  /** Every JSON log line so far. */
  readonly logs: LogLine[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first log line (so far or to come) that `match` accepts. */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** SIGKILLs the server if it is still running, and removes its temp directory. */
  dispose(): Promise<void>;
}

/**
 * Starts `node <mainJs>` with only the given variables (plus PATH, HOME, LANG and a TMPDIR of
 * its own), on 127.0.0.1 and a free port it reports in its "listening" log line.
 */
export async function startServer(mainJs: string, env: Record<string, string>, startTimeoutMs = 30_000): Promise<RunningServer> {
  const tmpDir = await mkdtemp(join(tmpdir(), "pyexec-server-"));
  const child = spawn(process.execPath, [mainJs], {
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: process.env.HOME ?? tmpDir,
      LANG: "C.UTF-8",
      TMPDIR: tmpDir,
      HOST: "127.0.0.1",
      PORT: "0",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: LogLine[] = [];
  const listeners = new Set<(line: LogLine) => void>();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  createInterface({ input: child.stdout! }).on("line", (text) => {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      line = { level: 0, msg: text };
    }
    logs.push(line);
    for (const listener of listeners) listener(line);
  });

  const waitForLog = (match: (line: LogLine) => boolean, timeoutMs = 30_000): Promise<LogLine> => {
    const seen = logs.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        listeners.delete(listener);
        reject(new Error(`no matching log line in ${timeoutMs} ms; stderr:\n${stderr}\nlogs:\n${logs.map((l) => JSON.stringify(l)).join("\n")}`));
      }, timeoutMs);
      const listener = (line: LogLine) => {
        if (!match(line)) return;
        clearTimeout(timer);
        listeners.delete(listener);
        resolve(line);
      };
      listeners.add(listener);
      void exited.then(() => {
        if (!listeners.has(listener)) return;
        clearTimeout(timer);
        listeners.delete(listener);
        reject(new Error(`the server exited before the log line; stderr:\n${stderr}\nlogs:\n${logs.map((l) => JSON.stringify(l)).join("\n")}`));
      });
    });
  };

  const dispose = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await exited;
    }
    await killProcessesIn(tmpDir);
    await rm(tmpDir, { recursive: true, force: true });
  };

  try {
    const listening = await waitForLog((line) => line.msg === "listening", startTimeoutMs);
    return { child, url: `http://127.0.0.1:${String(listening.port)}`, tmpDir, logs, exited, waitForLog, dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}

async function killProcessesIn(dir: string): Promise<void> {
  for (const { pid } of await processesIn(dir)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}
