import { afterEach, describe, expect, it, vi } from "vitest";
import { FakeSandbox } from "../test/support/fake-sandbox.js";
import { AdmissionGate } from "./admission.js";
import { type CapturedOutput, NO_OUTPUT } from "./captured-output.js";
import { ExecuteScript } from "./execute-script.use-case.js";
import type { ExecutionRequest } from "./execution-request.js";
import { failure } from "./execution-result.js";
import { err, ok } from "./result.js";
import type { SandboxOutcome } from "./sandbox.port.js";

const request: ExecutionRequest = { script: "def main():\n    return 1", timeoutMs: 5000, memoryMb: 256 };
const output: CapturedOutput = { stdout: "hi\n", stderr: "", stdoutTruncated: false, stderrTruncated: false };

/** A run that finishes only when the test says so. */
function deferredRun() {
  let finish!: (outcome: SandboxOutcome) => void;
  const outcome = new Promise<SandboxOutcome>((resolve) => {
    finish = resolve;
  });
  return { outcome, finish };
}

const gate = (maxConcurrent = 1, maxQueued = 0, maxWaitMs = 1000) => new AdmissionGate({ maxConcurrent, maxQueued, maxWaitMs });

describe("ExecuteScript", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("passes the request to the sandbox and returns its success unchanged", async () => {
    const success = ok({ resultJson: "18446744073709551616", output, durationMs: 12 });
    const sandbox = new FakeSandbox(async () => success);
    const useCase = new ExecuteScript(sandbox, gate(), 1);

    await expect(useCase.execute(request)).resolves.toBe(success);
    expect(sandbox.requests).toEqual([request]);
  });

  it("returns the sandbox's failure unchanged (failures are values)", async () => {
    const failed = err(failure("RUNTIME_ERROR", "ZeroDivisionError: division by zero", output, { traceback: "tb", durationMs: 3 }));
    const useCase = new ExecuteScript(new FakeSandbox(async () => failed), gate(), 1);
    await expect(useCase.execute(request)).resolves.toBe(failed);
  });

  it("frees its slot when the run ends, whatever the outcome", async () => {
    const g = gate(1, 0);
    let calls = 0;
    const useCase = new ExecuteScript(
      new FakeSandbox(async () => {
        calls++;
        if (calls === 2) throw new Error("boom");
        return calls === 1 ? ok({ resultJson: "1", output, durationMs: 1 }) : err(failure("TIMEOUT", "t", output));
      }),
      g,
      1,
    );
    for (let i = 0; i < 3; i++) {
      await useCase.execute(request);
      expect(g.running).toBe(0);
    }
    expect(calls).toBe(3);
  });

  it("answers BUSY with retryAfterSeconds when every sandbox is busy and the queue is full", async () => {
    const first = deferredRun();
    const sandbox = new FakeSandbox(() => first.outcome);
    const useCase = new ExecuteScript(sandbox, gate(1, 0), 7);

    const running = useCase.execute(request);
    const refused = await useCase.execute({ ...request, script: "second" });

    expect(refused.ok).toBe(false);
    if (refused.ok) return;
    expect(refused.error.code).toBe("BUSY");
    expect(refused.error.retryAfterSeconds).toBe(7);
    expect(refused.error.output).toEqual(NO_OUTPUT);
    expect(refused.error.message).toMatch(/busy/i);
    // The refused request never reached the sandbox.
    expect(sandbox.requests.map((r) => r.script)).toEqual([request.script]);

    first.finish(ok({ resultJson: "1", output, durationMs: 1 }));
    await expect(running).resolves.toMatchObject({ ok: true });
  });

  it("answers BUSY when a queued request waits longer than maxWaitMs", async () => {
    vi.useFakeTimers();
    const first = deferredRun();
    const sandbox = new FakeSandbox(() => first.outcome);
    const useCase = new ExecuteScript(sandbox, gate(1, 5, 2000), 3);

    void useCase.execute(request);
    const waiting = useCase.execute({ ...request, script: "second" });
    await vi.advanceTimersByTimeAsync(2000);

    const refused = await waiting;
    expect(refused.ok).toBe(false);
    if (refused.ok) return;
    expect(refused.error.code).toBe("BUSY");
    expect(refused.error.retryAfterSeconds).toBe(3);
    expect(refused.error.message).toMatch(/in time/);
    expect(sandbox.requests).toHaveLength(1);
    first.finish(ok({ resultJson: "1", output, durationMs: 1 }));
  });

  it("a queued request runs once the running one finishes", async () => {
    const runs = [deferredRun(), deferredRun()];
    let call = 0;
    const sandbox = new FakeSandbox(() => runs[call++]!.outcome);
    const useCase = new ExecuteScript(sandbox, gate(1, 1, 60_000), 1);

    const a = useCase.execute({ ...request, script: "a" });
    const b = useCase.execute({ ...request, script: "b" });
    await Promise.resolve();
    expect(sandbox.requests.map((r) => r.script)).toEqual(["a"]);

    runs[0]!.finish(ok({ resultJson: '"a"', output, durationMs: 1 }));
    await expect(a).resolves.toMatchObject({ ok: true, value: { resultJson: '"a"' } });
    await vi.waitFor(() => expect(sandbox.requests.map((r) => r.script)).toEqual(["a", "b"]));
    runs[1]!.finish(ok({ resultJson: '"b"', output, durationMs: 1 }));
    await expect(b).resolves.toMatchObject({ ok: true, value: { resultJson: '"b"' } });
  });

  it("a queued request whose client goes away is CANCELLED and never reaches the sandbox", async () => {
    const sandbox = new FakeSandbox();
    const g = gate(1, 1, 60_000);
    const useCase = new ExecuteScript(sandbox, g, 1);
    const running = useCase.execute({ ...request, script: "a" });
    const client = new AbortController();
    const queued = useCase.execute({ ...request, script: "b", signal: client.signal });
    await vi.waitFor(() => expect(g.queued).toBe(1));

    client.abort();
    const outcome = await queued;
    expect(outcome.ok ? "ok" : [outcome.error.code, outcome.error.message]).toEqual(["CANCELLED", expect.stringMatching(/went away.*not run/)]);
    expect(g.queued).toBe(0);
    sandbox.pending[0]!.finish();
    await running;
    expect(sandbox.requests.map((r) => r.script)).toEqual(["a"]);
  });

  it("a run whose client went away is CANCELLED when the sandbox stopped it (a TIMEOUT), and keeps its output", async () => {
    const client = new AbortController();
    const sandbox = new FakeSandbox(async () => {
      client.abort();
      return err(failure("TIMEOUT", "Script execution timed out", output, { durationMs: 40 }));
    });
    const useCase = new ExecuteScript(sandbox, gate(), 1);
    const outcome = await useCase.execute({ ...request, signal: client.signal });
    expect(outcome.ok ? "ok" : outcome.error).toEqual({ code: "CANCELLED", message: expect.stringMatching(/went away.*stopped/), output, durationMs: 40 });
    // The sandbox was handed the signal with the request, to stop the run by.
    expect(sandbox.requests[0]!.signal).toBe(client.signal);
  });

  it("a run whose client went away keeps a failure other than its stop: the sandbox's own trouble is not hidden", async () => {
    const client = new AbortController();
    const unavailable = err(failure("SANDBOX_UNAVAILABLE", "The sandbox stopped while the script ran", output));
    const useCase = new ExecuteScript(
      new FakeSandbox(async () => {
        client.abort();
        return unavailable;
      }),
      gate(),
      1,
    );
    await expect(useCase.execute({ ...request, signal: client.signal })).resolves.toBe(unavailable);
  });

  it("a request whose client went away as it was admitted is CANCELLED without reaching the sandbox, and frees its slot", async () => {
    const client = new AbortController();
    const sandbox = new FakeSandbox();
    const g = gate();
    const useCase = new ExecuteScript(sandbox, g, 1);
    const acquire = g.acquire.bind(g);
    vi.spyOn(g, "acquire").mockImplementationOnce(async (signal) => {
      const admission = await acquire(signal);
      client.abort();
      return admission;
    });
    const outcome = await useCase.execute({ ...request, signal: client.signal });
    expect(outcome.ok ? "ok" : [outcome.error.code, outcome.error.message]).toEqual(["CANCELLED", expect.stringMatching(/went away.*not run/)]);
    expect(sandbox.requests).toEqual([]);
    expect(g.running).toBe(0);
  });

  it("a run that succeeded is its success even if its client went away meanwhile", async () => {
    const client = new AbortController();
    const success = ok({ resultJson: "1", output, durationMs: 1 });
    const useCase = new ExecuteScript(
      new FakeSandbox(async () => {
        client.abort();
        return success;
      }),
      gate(),
      1,
    );
    await expect(useCase.execute({ ...request, signal: client.signal })).resolves.toBe(success);
  });

  it.each([
    ["rejects", () => Promise.reject(new Error("spawn EACCES"))],
    [
      "throws synchronously",
      () => {
        throw new Error("no free sandbox uid");
      },
    ],
    ["rejects with a non-Error", () => Promise.reject("a bare string")],
  ])("a port that %s becomes an INTERNAL failure value, not an exception", async (_how, answer) => {
    const g = gate(1, 0);
    const causes: unknown[] = [];
    const useCase = new ExecuteScript(new FakeSandbox(answer as () => Promise<SandboxOutcome>), g, 1, (cause) => causes.push(cause));

    const outcome = await useCase.execute(request);

    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.error.code).toBe("INTERNAL");
    expect(outcome.error.output).toEqual(NO_OUTPUT);
    // The details go to the server's log, never to the client.
    expect(outcome.error.message).toBe("Internal error");
    expect(causes).toHaveLength(1);
    // The slot is given back, so the next request is admitted rather than refused as BUSY.
    expect(g.running).toBe(0);
    const again = await useCase.execute(request);
    expect(again.ok ? "ok" : again.error.code).toBe("INTERNAL");
  });
});
