import { describe, it } from "vitest";
import type { SandboxPort } from "../../domain/sandbox.port.js";
import { SANDBOX_MODES, type SandboxMode } from "../../src/config.js";
import { startSandbox } from "../../src/sandbox-factory.js";
import { runtime, silentLogger, testConfig } from "./real-app.js";

/**
 * The real nsjail backend (pool included unless POOL_SIZE is given), or the reason it cannot
 * run here. With REQUIRE_NSJAIL=1 (CI) an unavailable nsjail fails the suite instead of
 * skipping it.
 */
export async function nsjailSandbox(env: Record<string, string> = {}): Promise<SandboxPort | string> {
  try {
    const { sandbox } = await startSandbox(testConfig({ SANDBOX_BACKEND: "nsjail", ...env }), runtime(), silentLogger);
    return sandbox;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    if (process.env.REQUIRE_NSJAIL === "1") throw new Error(`REQUIRE_NSJAIL=1 but nsjail is unavailable: ${reason}`);
    console.warn(`\n*** SKIPPING nsjail tests: ${reason} ***\n`);
    return reason;
  }
}

/**
 * The real nsjail backend in each of its modes (SANDBOX_MODE), for suites that run unchanged
 * over both (`describe.each(await nsjailModes())`). None where nsjail cannot run here, after a
 * loud warning (a failure under REQUIRE_NSJAIL=1, as nsjailSandbox).
 */
export async function nsjailModes(env: Record<string, string> = {}): Promise<{ mode: SandboxMode; sandbox: SandboxPort }[]> {
  const modes: { mode: SandboxMode; sandbox: SandboxPort }[] = [];
  for (const mode of SANDBOX_MODES) {
    const sandbox = await nsjailSandbox({ SANDBOX_MODE: mode, ...env });
    if (typeof sandbox === "string") return [];
    modes.push({ mode, sandbox });
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
