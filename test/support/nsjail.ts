import { describe, it } from "vitest";
import type { SandboxPort } from "../../domain/sandbox.port.js";
import { SANDBOX_MODES, type SandboxMode } from "../../src/config.js";
import { type LiveSandbox, startSandbox } from "../../src/sandbox-factory.js";
import { runtime, silentLogger, testConfig } from "./real-app.js";
import { scaled } from "./slowdown.js";

/**
 * The real nsjail backend (pool included unless POOL_SIZE is given), or the reason it cannot
 * run here. With REQUIRE_NSJAIL=1 (CI) an unavailable nsjail fails the suite instead of
 * skipping it.
 */
export async function nsjailSandbox(env: Record<string, string> = {}): Promise<SandboxPort | string> {
  const live = await liveNsjail(env);
  return typeof live === "string" ? live : live.sandbox;
}

/** nsjailSandbox with what the server reports of it on /health (LiveSandbox.info). */
async function liveNsjail(env: Record<string, string>): Promise<LiveSandbox | string> {
  let live: LiveSandbox;
  try {
    live = await startedInTime(startSandbox(testConfig({ SANDBOX_BACKEND: "nsjail", ...env }), runtime(), silentLogger), env);
  } catch (error) {
    if (error instanceof StartTimeout) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    if (process.env.REQUIRE_NSJAIL === "1") throw new Error(`REQUIRE_NSJAIL=1 but nsjail is unavailable: ${reason}`);
    console.warn(`\n*** SKIPPING nsjail tests: ${reason} ***\n`);
    return reason;
  }
  return live;
}

/** A start that took too long is a failure wherever it happens, never a reason to skip. */
class StartTimeout extends Error {}

/**
 * Suites start their sandboxes as their file loads, where no test or hook timeout applies: a
 * start that never ends would hold the whole run. It is bounded like a test instead.
 */
async function startedInTime<T>(starting: Promise<T>, env: Record<string, string>): Promise<T> {
  const limitMs = scaled(60_000);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StartTimeout(`nsjail (${JSON.stringify(env)}) did not start within ${limitMs} ms`)), limitMs);
  });
  try {
    return await Promise.race([starting, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** One mode of the real nsjail backend, and what /health would report of it. */
export interface NsjailMode {
  readonly mode: SandboxMode;
  readonly sandbox: SandboxPort;
  readonly info: LiveSandbox["info"];
}

/**
 * The real nsjail backend in each of its modes (SANDBOX_MODE), for suites that run unchanged
 * over both (`describe.each(await nsjailModes())`). None where nsjail cannot run here, after a
 * loud warning (a failure under REQUIRE_NSJAIL=1, as nsjailSandbox).
 */
export async function nsjailModes(env: Record<string, string> = {}): Promise<NsjailMode[]> {
  const modes: NsjailMode[] = [];
  for (const mode of SANDBOX_MODES) {
    const live = await liveNsjail({ SANDBOX_MODE: mode, ...env });
    if (typeof live === "string") return [];
    modes.push({ mode, ...live });
  }
  return modes;
}

/**
 * `describe.each(modes)`, or where nsjail cannot run here (no modes) one skipped suite in its
 * place: a file that registers no suite at all is a failure, not a skip.
 */
export function eachMode<T extends { mode: SandboxMode }>(modes: readonly T[]): (name: string, body: (mode: T) => void) => void {
  return (name, body) => {
    if (modes.length > 0) describe.each(modes)(name, body);
    else describe.skip(name, () => it.skip("needs nsjail, which cannot run here (see the warning above)", () => undefined));
  };
}
