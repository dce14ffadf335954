import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { buildServer, type RunningServer, startServer } from "../support/built-server.js";
import { processesIn, survivors } from "../support/processes.js";

// The built server (`npm run build`, `node dist/src/main.js`) receives a real SIGTERM while a
// script runs: Cloud Run and Kubernetes send one on every scale-down.

const KEY = "test-key-for-shutdown";
const SLOW_SCRIPT = `import time

def main():
    time.sleep(2)
    return {"slept": 2}
`;
const ENDLESS_SCRIPT = `import time

def main():
    print("started", flush=True)
    time.sleep(600)
    return "never"
`;

let build: Awaited<ReturnType<typeof buildServer>>;
let server: RunningServer | undefined;

beforeAll(async () => {
  build = await buildServer();
}, 120_000);

afterEach(async () => {
  await server?.dispose();
  server = undefined;
});

afterAll(async () => {
  await build?.remove();
});

const start = (env: Record<string, string> = {}) =>
  startServer(build.mainJs, {
    SANDBOX_BACKEND: "subprocess",
    API_KEYS: KEY,
    MAX_CONCURRENCY: "2",
    POOL_SIZE: "1",
    EXECUTION_TIMEOUT_MS: "60000",
    ...env,
  });

const post = (base: string, script: string) =>
  fetch(`${base}/execute`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
    body: JSON.stringify({ script }),
  }).then(async (response) => ({ status: response.status, body: (await response.json()) as Record<string, unknown> }));

/** Resolves once the server reports scripts running (and queued), read from /metrics as a scraper would. */
async function untilRunning(base: string, running: number, queued = 0): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const text = await (await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${KEY}` } })).text();
    if (new RegExp(`^pyexec_running_sandboxes ${running}$`, "m").test(text) && new RegExp(`^pyexec_queue_depth ${queued}$`, "m").test(text)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`never saw ${running} running and ${queued} queued`);
}

/** The sandboxes' work dirs are in the server's TMPDIR: a process with its cwd there is one of its interpreters. */
const interpretersLeft = (running: RunningServer) => survivors(() => processesIn(running.tmpDir), 20, 100);

describe("graceful shutdown of the built server", () => {
  test("a run in flight at SIGTERM completes with 200, new connections are refused, the process exits 0, nothing is left running", async () => {
    server = await start({ SHUTDOWN_GRACE_MS: "15000" });
    const running = server;
    await running.waitForLog((line) => line.msg === "listening");

    const inFlight = post(running.url, SLOW_SCRIPT);
    await untilRunning(running.url, 1);
    const signalledAt = Date.now();
    running.child.kill("SIGTERM");
    await running.waitForLog((line) => line.msg.startsWith("shutting down"));

    // the listening socket is closed: a new connection is refused while the run goes on
    await expect(fetch(`${running.url}/health`)).rejects.toThrow();

    const response = await inFlight;
    expect(response.status).toBe(200);
    expect(response.body.result).toEqual({ slept: 2 });

    const exit = await running.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    // it waited for the run, but not for the grace period
    expect(Date.now() - signalledAt).toBeLessThan(10_000);
    expect(await interpretersLeft(running)).toEqual([]);

    const messages = running.logs.map((line) => line.msg);
    expect(messages).toContain("signal received");
    expect(messages).toContain("shut down");
    expect(messages).not.toContain("killing the runs still in flight");
    const execution = running.logs.find((line) => line.msg === "execution");
    expect(execution).toMatchObject({ code: "OK", backend: "subprocess" });
  }, 90_000);

  test("runs still going (and queued) when the grace period ends are killed and answered 503; the process still exits 0 with nothing left", async () => {
    server = await start({ SHUTDOWN_GRACE_MS: "1000", MAX_CONCURRENCY: "1" });
    const running = server;

    const inFlight = post(running.url, ENDLESS_SCRIPT);
    await untilRunning(running.url, 1);
    const queued = post(running.url, ENDLESS_SCRIPT);
    await untilRunning(running.url, 1, 1);
    const signalledAt = Date.now();
    running.child.kill("SIGTERM");

    const response = await inFlight;
    expect(response.status).toBe(503);
    expect(response.body.code).toBe("SANDBOX_UNAVAILABLE");
    expect(response.body.error).toMatch(/shut down before the script finished/);
    expect(response.body.stdout).toBe("started\n");
    // admitted from the queue after the abort: refused, no sandbox started for it
    const queuedResponse = await queued;
    expect(queuedResponse.status).toBe(503);
    expect(queuedResponse.body).toMatchObject({ code: "SANDBOX_UNAVAILABLE", stdout: "" });

    const exit = await running.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(Date.now() - signalledAt).toBeLessThan(8_000);
    expect(await interpretersLeft(running)).toEqual([]);
    expect(running.logs.map((line) => line.msg)).toContain("killing the runs still in flight");
  }, 90_000);

  test("SIGINT shuts down the same way", async () => {
    server = await start({ SHUTDOWN_GRACE_MS: "5000" });
    const running = server;
    running.child.kill("SIGINT");
    expect(await running.exited).toEqual({ code: 0, signal: null });
    expect(await interpretersLeft(running)).toEqual([]);
    expect(running.logs.find((line) => line.msg === "signal received")).toMatchObject({ signal: "SIGINT" });
  }, 60_000);
});
