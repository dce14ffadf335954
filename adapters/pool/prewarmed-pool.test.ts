import { describe, expect, it } from "vitest";
import { NO_OUTPUT } from "../../domain/captured-output.js";
import type { ExecutionRequest } from "../../domain/execution-request.js";
import { ok } from "../../domain/result.js";
import type { SandboxOutcome } from "../../domain/sandbox.port.js";
import { FakeSandbox } from "../../test/support/fake-sandbox.js";
import { until } from "../../test/support/observing.js";
import { type SessionLink, type SessionRunRequest, sessionOf } from "../python/session-link.js";
import { PrewarmedPool } from "./prewarmed-pool.js";

const request: ExecutionRequest = { script: "def main(): return 1", timeoutMs: 1000, memoryMb: 64 };
const outcome = (resultJson: string): SandboxOutcome => ok({ resultJson, output: NO_OUTPUT, durationMs: 1 });

/** A backend whose sandboxes say where they came from: "warm:<n>" or "cold"; pre-started ones fit only `request`'s memory limit. */
const fakeBackend = () =>
  new FakeSandbox(
    async (_request, ranIn) => outcome(ranIn === "cold" ? '"cold"' : `"warm:${ranIn}"`),
    (r) => r.memoryMb === request.memoryMb,
  );

const resultOf = (o: SandboxOutcome) => (o.ok ? o.value.resultJson : o.error.code);

describe("PrewarmedPool", () => {
  it("fills up to its size and serves each request from a different pre-started sandbox", async () => {
    const backend = fakeBackend();
    const pool = new PrewarmedPool(backend, { size: 2, cpuSlots: 2 });
    await pool.whenFull();
    expect(pool.readyCount).toBe(2);
    const first = resultOf(await pool.run(request));
    const second = resultOf(await pool.run(request));
    expect(first).toMatch(/^"warm:\d"$/);
    expect(second).toMatch(/^"warm:\d"$/);
    expect(first).not.toBe(second);
    await pool.close();
  });

  it("refills after a run, so sandboxes are never reused", async () => {
    const backend = fakeBackend();
    const pool = new PrewarmedPool(backend, { size: 1, cpuSlots: 2 });
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) {
      await pool.whenFull();
      seen.add(resultOf(await pool.run(request)));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(seen.size).toBe(4);
    expect(backend.coldRuns).toBe(0);
    await pool.close();
  });

  it("starts cold when empty instead of waiting for a refill", async () => {
    const backend = fakeBackend();
    const pool = new PrewarmedPool(backend, { size: 1, cpuSlots: 1 });
    await pool.whenFull();
    const results = await Promise.all([pool.run(request), pool.run(request), pool.run(request)]);
    expect(results.map(resultOf).filter((r) => r === '"cold"')).toHaveLength(2);
    expect(backend.coldRuns).toBe(2);
    await pool.close();
  });

  it("does not refill while every CPU slot is running a script", async () => {
    const backend = fakeBackend();
    let release: () => void = () => undefined;
    backend.run = () => {
      backend.coldRuns++;
      return new Promise((resolve) => {
        release = () => resolve(outcome('"cold"'));
      });
    };
    const pool = new PrewarmedPool(backend, { size: 1, cpuSlots: 1 });
    await pool.whenFull();
    await pool.run(request); // takes the only warm sandbox
    const startedBefore = backend.prestarted.length;
    const slow = pool.run(request); // cold, and it holds the only CPU slot
    await new Promise((resolve) => setTimeout(resolve, 20));
    const startedWhileBusy = backend.prestarted.length - startedBefore;
    release();
    await slow;
    await pool.whenFull();
    expect(startedWhileBusy).toBe(0);
    expect(pool.readyCount).toBe(1);
    await pool.close();
  });

  it("refills once a session's run is open: an open session waits for cells, not on a CPU", async () => {
    const backend = fakeBackend();
    let end: () => void = () => undefined;
    backend.run = (forwarded) => {
      backend.coldRuns++;
      sessionOf(forwarded)?.opened(() => undefined);
      return new Promise((resolve) => {
        end = () => resolve(outcome("null"));
      });
    };
    const pool = new PrewarmedPool(backend, { size: 1, cpuSlots: 1 });
    await pool.whenFull();
    await pool.run(request); // takes the only warm sandbox
    const startedBefore = backend.prestarted.length;
    const link: SessionLink = { marker: "m", streams: { stdout: () => undefined, stderr: () => undefined, report: () => undefined }, opened: () => undefined };
    const session = pool.run({ ...request, session: link } as SessionRunRequest); // cold, and open at once
    await pool.whenFull();
    expect(backend.prestarted.length - startedBefore).toBe(1);
    end();
    await session;
    await pool.close();
  });

  it("starts cold for a request the waiting sandboxes do not fit", async () => {
    const backend = fakeBackend();
    const pool = new PrewarmedPool(backend, { size: 1, cpuSlots: 2 });
    await pool.whenFull();
    expect(resultOf(await pool.run({ ...request, memoryMb: request.memoryMb / 2 }))).toBe('"cold"');
    expect(pool.readyCount).toBe(1);
    await pool.close();
  });

  it("throws away a sandbox that died while waiting", async () => {
    const backend = fakeBackend();
    const pool = new PrewarmedPool(backend, { size: 1, cpuSlots: 2 });
    await pool.whenFull();
    backend.prestarted[0]!.alive = false;
    expect(resultOf(await pool.run(request))).toBe('"cold"');
    expect(backend.discarded).toBe(1);
    await pool.close();
  });

  it("keeps serving cold and retries when sandboxes cannot be pre-started", async () => {
    const backend = fakeBackend();
    backend.failNextPrestarts = 1;
    const errors: unknown[] = [];
    const pool = new PrewarmedPool(backend, { size: 1, cpuSlots: 2, onError: (e) => errors.push(e) });
    expect(resultOf(await pool.run(request))).toBe('"cold"');
    await new Promise((resolve) => setTimeout(resolve, 1200));
    await pool.whenFull();
    expect(errors).toHaveLength(1);
    expect(pool.readyCount).toBe(1);
    await pool.close();
  });

  it("discards what is waiting when closed", async () => {
    const backend = fakeBackend();
    const pool = new PrewarmedPool(backend, { size: 3, cpuSlots: 2 });
    await pool.whenFull();
    await pool.close();
    expect(backend.discarded).toBe(3);
    expect(pool.readyCount).toBe(0);
  });

  it("closes its backend even when discarding what is waiting fails", async () => {
    const backend = fakeBackend();
    const pool = new PrewarmedPool(backend, { size: 2, cpuSlots: 2 });
    await pool.whenFull();
    backend.failDiscards = true;
    await pool.close();
    expect(backend.discarded).toBe(2);
    expect(backend.closed).toBe(true);
  });

  it("replaces a ready sandbox as soon as it says it can no longer be used, without waiting for a request", async () => {
    const backend = fakeBackend();
    const pool = new PrewarmedPool(backend, { size: 1, cpuSlots: 1 });
    await pool.whenFull();
    backend.prestarted[0]!.goAway();
    await until(() => backend.prestarted.length === 2 && pool.readyCount === 1);
    expect(backend.discarded).toBe(1);
    expect(resultOf(await pool.run(request))).toBe('"warm:2"');
    await pool.close();
  });
});
