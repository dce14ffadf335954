import { EventEmitter } from "node:events";
import { describe, expect, test } from "vitest";
import { NO_OUTPUT } from "../../domain/captured-output.js";
import { failure } from "../../domain/execution-result.js";
import { err, ok } from "../../domain/result.js";
import type { SandboxOutcome } from "../../domain/sandbox.port.js";
import { composeApp } from "../../src/compose.js";
import { Drain } from "../../src/shutdown/drain.js";
import { InFlightRequests } from "../../src/shutdown/in-flight-requests.js";
import { shutDown } from "../../src/shutdown/shut-down.js";
import { FakeSandbox } from "../support/fake-sandbox.js";
import { capturingLogger, until } from "../support/observing.js";
import { silentLogger, testConfig } from "../support/real-app.js";
import { execute } from "../support/requests.js";

const REQUEST = { script: "def main(): return 1", timeoutMs: 1000, memoryMb: 64 };
const SUCCESS: SandboxOutcome = ok({ resultJson: "1", output: NO_OUTPUT, durationMs: 1 });
const KILLED: SandboxOutcome = err(failure("RESOURCE_LIMIT_EXCEEDED", "killed by SIGKILL", { ...NO_OUTPUT, stdout: "partial\n" }));

describe("Drain", () => {
  test("serving: executions go through", async () => {
    const drain = new Drain(1);
    expect(await drain.guard(async () => SUCCESS)(REQUEST)).toBe(SUCCESS);
  });

  test("draining: new executions are refused with SANDBOX_UNAVAILABLE and Retry-After, without running", async () => {
    const drain = new Drain(1);
    drain.startDraining();
    let ran = false;
    const outcome = await drain.guard(async () => {
      ran = true;
      return SUCCESS;
    })(REQUEST);
    expect(ran).toBe(false);
    expect(outcome).toMatchObject({ ok: false, error: { code: "SANDBOX_UNAVAILABLE", retryAfterSeconds: 1 } });
  });

  test("an execution admitted before draining keeps its own outcome", async () => {
    const drain = new Drain(1);
    let finish: (outcome: SandboxOutcome) => void = () => undefined;
    const running = drain.guard(() => new Promise((resolve) => (finish = resolve)))(REQUEST);
    drain.startDraining();
    finish(SUCCESS);
    expect(await running).toBe(SUCCESS);
  });

  test("aborting: a run killed by the shutdown is answered SANDBOX_UNAVAILABLE with its output so far; a success stays a success", async () => {
    const drain = new Drain(1);
    const sandbox = new FakeSandbox();
    const guarded = drain.guardSandbox(sandbox);
    expect(guarded.backend).toBe("fake");
    const killed = guarded.run(REQUEST);
    const succeeded = guarded.run(REQUEST);
    await until(() => sandbox.pending.length === 2);
    drain.abort();
    sandbox.pending[0]!.finish(KILLED);
    sandbox.pending[1]!.finish(SUCCESS);
    expect(await killed).toMatchObject({
      ok: false,
      error: { code: "SANDBOX_UNAVAILABLE", message: expect.stringMatching(/shut down before the script finished/), output: { stdout: "partial\n" } },
    });
    expect(await succeeded).toEqual(SUCCESS);
  });

  test("aborting: a queued request admitted after the abort starts no sandbox", async () => {
    const drain = new Drain(1);
    const sandbox = new FakeSandbox();
    drain.abort();
    expect(await drain.guardSandbox(sandbox).run(REQUEST)).toMatchObject({ ok: false, error: { code: "SANDBOX_UNAVAILABLE" } });
    expect(sandbox.pending).toHaveLength(0);
    await drain.guardSandbox(sandbox).close();
    expect(sandbox.closed).toBe(true);
  });

  test("through the app: requests queued at the abort are refused, not started on a closed backend", async () => {
    const sandbox = new FakeSandbox();
    const { app, drain } = await composeApp(testConfig({ MAX_CONCURRENCY: "1", MAX_QUEUE: "4" }), sandbox, { python: "test", packages: {} }, silentLogger);
    const running = execute(app, "def main(): return 1");
    const queued = execute(app, "def main(): return 2");
    await until(() => sandbox.pending.length === 1);
    drain.startDraining();
    drain.abort();
    sandbox.pending[0]!.finish(KILLED);
    expect((await running).body).toMatchObject({ code: "SANDBOX_UNAVAILABLE", stdout: "partial\n" });
    expect((await queued).status).toBe(503);
    expect(sandbox.pending).toHaveLength(1);
  });

  test("through the app: a request arriving while draining is a 503 with Retry-After, and is logged and counted", async () => {
    const sandbox = new FakeSandbox();
    const { app, drain, metrics } = await composeApp(testConfig(), sandbox, { python: "test", packages: {} }, silentLogger);
    drain.startDraining();
    const response = await execute(app, "def main(): return 1");
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("1");
    expect(response.body).toMatchObject({ code: "SANDBOX_UNAVAILABLE", error: expect.stringMatching(/shutting down/) });
    expect(sandbox.pending).toHaveLength(0);
    expect(await metrics.render()).toMatch(/^pyexec_executions_total\{code="SANDBOX_UNAVAILABLE"\} 1$/m);
  });
});

/** A stand-in for node's http.Server: requests are emitted by hand, close() completes once every socket is closed. */
class FakeServer extends EventEmitter {
  readonly calls: string[] = [];
  private onClosed: (() => void) | undefined;
  close(callback?: () => void) {
    this.calls.push("close");
    this.onClosed = callback;
    return this as never;
  }
  closeIdleConnections() {
    this.calls.push("closeIdleConnections");
  }
  closeAllConnections() {
    this.calls.push("closeAllConnections");
    this.onClosed?.();
  }
  /** Starts a request; the returned function ends its response. */
  request(): () => void {
    const res = new EventEmitter();
    this.emit("request", {}, res);
    return () => res.emit("close");
  }
}

function fixture(graceMs: number) {
  const server = new FakeServer();
  const inFlight = new InFlightRequests(server as never);
  const drain = new Drain(1);
  const sandbox = new FakeSandbox();
  const { logger, lines } = capturingLogger();
  const order: string[] = [];
  const sandboxClose = sandbox.close.bind(sandbox);
  sandbox.close = async () => {
    order.push("sandbox.close");
    await sandboxClose();
  };
  return { server, inFlight, drain, sandbox, lines, order, deps: { server: server as never, inFlight, drain, sandbox, graceMs, logger } };
}

describe("shutDown", () => {
  test("with nothing in flight it closes the listener, the sandbox and the sockets at once", async () => {
    const f = fixture(60_000);
    const startedAt = Date.now();
    await shutDown(f.deps);
    expect(Date.now() - startedAt).toBeLessThan(1000);
    expect(f.server.calls).toEqual(["close", "closeIdleConnections", "closeAllConnections"]);
    expect(f.sandbox.closed).toBe(true);
    expect(f.drain.serving).toBe(false);
    expect(f.lines.map((line) => line.msg)).toEqual([expect.stringMatching(/^shutting down/), "shut down"]);
  });

  test("waits for the requests in flight, then closes the sandbox: nothing is aborted", async () => {
    const f = fixture(60_000);
    const endFirst = f.server.request();
    const endSecond = f.server.request();
    expect(f.inFlight.size).toBe(2);
    let done = false;
    const shutting = shutDown(f.deps).then(() => (done = true));
    await until(() => f.server.calls.includes("close"));
    expect(f.drain.serving).toBe(false);
    endFirst();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(done).toBe(false);
    expect(f.sandbox.closed).toBe(false);
    endSecond();
    await shutting;
    expect(f.drain.aborting).toBe(false);
    expect(f.sandbox.closed).toBe(true);
    expect(f.lines.map((line) => line.msg)).not.toContain("killing the runs still in flight");
  });

  test("when the grace period ends first it aborts, closes the sandbox (killing the runs) and lets their responses out", async () => {
    const f = fixture(200);
    const endRequest = f.server.request();
    // the sandbox's close() kills the run, whose 503 then goes out
    f.sandbox.close = async () => {
      f.order.push("sandbox.close");
      setTimeout(endRequest, 20);
    };
    const startedAt = Date.now();
    await shutDown(f.deps);
    const took = Date.now() - startedAt;
    expect(took).toBeGreaterThanOrEqual(190);
    expect(took).toBeLessThan(1500);
    expect(f.drain.aborting).toBe(true);
    expect(f.order).toEqual(["sandbox.close"]);
    expect(f.inFlight.size).toBe(0);
    expect(f.lines.find((line) => line.msg === "killing the runs still in flight")).toMatchObject({ level: 40, inFlight: 1, reason: "grace period over" });
  });

  test("a second signal ends the grace period at once", async () => {
    const f = fixture(60_000);
    f.server.request();
    let hurry: () => void = () => undefined;
    const hurried = new Promise<void>((resolve) => (hurry = resolve));
    const shutting = shutDown(f.deps, hurried);
    await until(() => f.server.calls.includes("close"));
    const startedAt = Date.now();
    hurry();
    await shutting; // the request never ends: the flush wait is bounded too
    expect(Date.now() - startedAt).toBeLessThan(5000);
    expect(f.drain.aborting).toBe(true);
    expect(f.lines.find((line) => line.msg === "killing the runs still in flight")).toMatchObject({ reason: "second signal" });
  });
});
