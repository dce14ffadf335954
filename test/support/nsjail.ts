import type { SandboxPort } from "../../domain/sandbox.port.js";
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
