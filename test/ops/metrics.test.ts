import { describe, expect, test } from "vitest";
import { PrewarmedPool } from "../../adapters/pool/prewarmed-pool.js";
import { composeApp } from "../../src/compose.js";
import { FakeSandbox } from "../support/fake-sandbox.js";
import { sample, until } from "../support/observing.js";
import { appOver, realSubprocessSandbox, silentLogger, testConfig } from "../support/real-app.js";
import { execute } from "../support/requests.js";

const INFO = { python: "test", packages: {} };
const scrape = async (app: { request: (path: string) => Response | Promise<Response> }) => {
  const response = await app.request("/metrics");
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
  return response.text();
};

describe("GET /metrics over the real sandbox", () => {
  test("executions by outcome code and the duration histogram change after each execution", async () => {
    const app = await appOver(realSubprocessSandbox());
    const before = await scrape(app);
    expect(before).toContain("# TYPE pyexec_executions_total counter");
    expect(before).toContain("# TYPE pyexec_execution_duration_seconds histogram");
    expect(sample(before, "pyexec_executions_total", { code: "OK" })).toBeUndefined();

    expect((await execute(app, "def main():\n    return 42\n")).status).toBe(200);
    const afterOk = await scrape(app);
    expect(sample(afterOk, "pyexec_executions_total", { code: "OK" })).toBe(1);
    expect(sample(afterOk, "pyexec_execution_duration_seconds_count", { code: "OK" })).toBe(1);
    expect(sample(afterOk, "pyexec_execution_duration_seconds_sum", { code: "OK" })).toBeGreaterThan(0);
    expect(sample(afterOk, "pyexec_execution_duration_seconds_bucket", { le: "+Inf", code: "OK" })).toBe(1);

    expect((await execute(app, "def main():\n    return 1 / 0\n")).status).toBe(400);
    expect((await execute(app, "def main():\n    return 2\n")).status).toBe(200);
    const after = await scrape(app);
    expect(sample(after, "pyexec_executions_total", { code: "OK" })).toBe(2);
    expect(sample(after, "pyexec_executions_total", { code: "RUNTIME_ERROR" })).toBe(1);
    expect(sample(after, "pyexec_running_sandboxes")).toBe(0);
    expect(sample(after, "pyexec_queue_depth")).toBe(0);
    // no pool: no pool gauge at all
    expect(after).not.toContain("pyexec_pool_ready_sandboxes");
    // the process's own metrics come along (memory, event-loop lag, ...)
    expect(after).toContain("process_resident_memory_bytes");
  });

  test("requests refused before any script runs are not executions", async () => {
    const app = await appOver(realSubprocessSandbox());
    await app.request("/execute", { method: "POST", headers: { "content-type": "text/plain" }, body: "x" });
    await app.request("/execute", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(await scrape(app)).not.toMatch(/^pyexec_executions_total\{/m);
  });
});

describe("gauges read at scrape time", () => {
  test("running sandboxes and queue depth follow the admission gate; BUSY is counted", async () => {
    const config = testConfig({ MAX_CONCURRENCY: "1", MAX_QUEUE: "1", POOL_SIZE: "0" });
    const sandbox = new FakeSandbox();
    const { app } = await composeApp(config, sandbox, INFO, silentLogger);
    const first = execute(app, "def main(): return 1");
    const second = execute(app, "def main(): return 2");
    await until(() => sandbox.pending.length === 1);
    const busy = await execute(app, "def main(): return 3");
    expect(busy.status).toBe(429);

    const during = await scrape(app);
    expect(sample(during, "pyexec_running_sandboxes")).toBe(1);
    expect(sample(during, "pyexec_queue_depth")).toBe(1);
    expect(sample(during, "pyexec_executions_total", { code: "BUSY" })).toBe(1);

    sandbox.pending[0]!.finish();
    await until(() => sandbox.pending.length === 2);
    const middle = await scrape(app);
    expect(sample(middle, "pyexec_running_sandboxes")).toBe(1);
    expect(sample(middle, "pyexec_queue_depth")).toBe(0);

    sandbox.pending[1]!.finish();
    await Promise.all([first, second]);
    const after = await scrape(app);
    expect(sample(after, "pyexec_running_sandboxes")).toBe(0);
    expect(sample(after, "pyexec_executions_total", { code: "OK" })).toBe(2);
  });

  test("with a pool, the pool's ready sandboxes are a gauge", async () => {
    const config = testConfig({ POOL_SIZE: "2" });
    const backend = new FakeSandbox();
    const pool = new PrewarmedPool(backend, { size: 2, cpuSlots: 4 });
    const { app } = await composeApp(config, pool, INFO, silentLogger);
    await pool.whenFull();
    expect(sample(await scrape(app), "pyexec_pool_ready_sandboxes")).toBe(2);

    const run = execute(app, "def main(): return 1");
    await until(() => backend.pending.length === 1);
    expect(sample(await scrape(app), "pyexec_pool_ready_sandboxes")).toBeLessThanOrEqual(1);
    backend.pending[0]!.finish();
    await run;
    await pool.close();
  });
});
