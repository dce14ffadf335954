import { describe, expect, it } from "vitest";
import { PrewarmedPool } from "../../adapters/pool/prewarmed-pool.js";
import type { SandboxPort } from "../../domain/sandbox.port.js";
import type { Config, SandboxMode } from "../../src/config.js";
import { pooled, startSandbox } from "../../src/sandbox-factory.js";
import { nsjailSandbox } from "./nsjail.js";
import { appOver, realSubprocessSandbox, runtime, silentLogger, testConfig } from "./real-app.js";
import type { App } from "./requests.js";

/**
 * A sandbox backend an integration suite runs over. The pooled ones hand every request of a
 * suite a sandbox that was pre-started before it (POOL_SIZE=1, and each request first waits
 * for the pool to be full), as production does by default. "nsjail" is a jail per run,
 * "nsjail zygote" a fork server's child per run (SANDBOX_MODE), with one run's process forked
 * ahead (POOL_SIZE=1), as production does by default.
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
  const { sandbox, config } = await realSandbox(env, backend);
  const app = await appOver(sandbox, config);
  if (!(sandbox instanceof PrewarmedPool)) return app;
  const waitingForThePool: App & { fetch(request: Request): Promise<Response> } = {
    async request(input, init) {
      await sandbox.whenFull();
      return app.request(input, init);
    },
    // A real server too (test/integration/docs-examples.test.ts serves it on a port).
    async fetch(request) {
      await sandbox.whenFull();
      return app.fetch(request);
    },
  };
  pools.set(waitingForThePool, sandbox);
  return waitingForThePool;
}

/** A real sandbox of `backend`, as realApp() builds it, closed by closeSandboxes(). */
export async function realSandbox(env: Record<string, string> = {}, backend: Backend = BACKENDS.subprocess): Promise<{ sandbox: SandboxPort; config: Config }> {
  const spares = backend.pooled || backend.mode === "zygote";
  const config = testConfig({ SANDBOX_BACKEND: backend.kind, SANDBOX_MODE: backend.mode, POOL_SIZE: spares ? "1" : "0", ...env });
  const sandbox =
    backend.kind === "nsjail" ? (await startSandbox(config, runtime(), silentLogger)).sandbox : pooled(realSubprocessSandbox(config), config, silentLogger);
  opened.push(sandbox);
  return { sandbox, config };
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
