import { describe, expect, it } from "vitest";
import type { CapturedOutput } from "../../domain/captured-output.js";
import type { ExecutionRequest } from "../../domain/execution-request.js";
import type { SandboxOutcome } from "../../domain/sandbox.port.js";
import { cpuSecondsFor } from "../run/run-limits.js";
import { outcomeOf, type ProcessEnding } from "./harness-outcome.js";
import type { HarnessReport } from "./harness-protocol.js";
import { RESULT_CHANNEL_LOST_EXIT } from "./protocol-facts.js";

describe("cpuSecondsFor", () => {
  it.each([
    [1, 2],
    [1000, 2],
    [1001, 3],
    [1500, 3],
    [30_000, 31],
  ])("%i ms of wall clock allows %i s of CPU", (timeoutMs, seconds) => {
    expect(cpuSecondsFor(timeoutMs)).toBe(seconds);
  });
});

describe("outcomeOf", () => {
  const request: ExecutionRequest = { script: "...", timeoutMs: 2500, memoryMb: 128 };
  const output: CapturedOutput = { stdout: "printed before\n", stderr: "warn\n", stdoutTruncated: true, stderrTruncated: false };
  const none: HarnessReport = { kind: "none" };
  const ending = (overrides: Partial<ProcessEnding>): ProcessEnding => ({
    report: none,
    exitCode: null,
    signal: null,
    timedOut: false,
    ...overrides,
  });
  const outcome = (overrides: Partial<ProcessEnding>) => outcomeOf(ending(overrides), output, request, 77);
  const failureOf = (result: SandboxOutcome) => {
    if (result.ok) throw new Error(`expected a failure, got ${JSON.stringify(result)}`);
    return result.error;
  };

  it("an ok report is a success with the raw result, the output and the duration", () => {
    expect(outcome({ report: { kind: "ok", resultJson: "18446744073709551616" }, exitCode: 0 })).toEqual({
      ok: true,
      value: { resultJson: "18446744073709551616", output, durationMs: 77 },
    });
  });

  it("a cell's repr stays a repr in the success", () => {
    expect(outcome({ report: { kind: "ok", resultJson: '"{1, 2}"', resultKind: "repr" } })).toEqual({
      ok: true,
      value: { resultJson: '"{1, 2}"', resultKind: "repr", output, durationMs: 77 },
    });
  });

  it("an error report becomes that failure, with traceback, output and duration", () => {
    const failure = failureOf(outcome({ report: { kind: "error", code: "RUNTIME_ERROR", message: "ValueError: x", traceback: "tb" }, exitCode: 0 }));
    expect(failure).toEqual({ code: "RUNTIME_ERROR", message: "ValueError: x", traceback: "tb", output, durationMs: 77 });
  });

  it("the artifacts of a report reach the success and the failure alike", () => {
    const artifacts = { files: [{ path: "a.txt", size: 1, mediaType: "text/plain" }], filesTruncated: true, figures: [], figuresTruncated: false };
    const success = outcome({ report: { kind: "ok", resultJson: "1", artifacts } });
    expect(success.ok && success.value.artifacts).toBe(artifacts);
    expect(failureOf(outcome({ report: { kind: "error", code: "RUNTIME_ERROR", message: "m", artifacts } })).artifacts).toBe(artifacts);
  });

  it("an error report without a traceback has no traceback field", () => {
    const failure = failureOf(outcome({ report: { kind: "error", code: "MAIN_NOT_FOUND", message: "No callable main() found in script" } }));
    expect(failure).not.toHaveProperty("traceback");
  });

  it("a report the harness finished wins over how the process was ended afterwards", () => {
    const result = outcome({ report: { kind: "error", code: "SCRIPT_EXITED", message: "sys.exit(3)" }, timedOut: true, signal: "SIGKILL" });
    expect(failureOf(result).code).toBe("SCRIPT_EXITED");
  });

  it("timedOut is TIMEOUT naming the wall-clock limit, even though the kill was a SIGKILL", () => {
    const failure = failureOf(outcome({ timedOut: true, signal: "SIGKILL" }));
    expect(failure.code).toBe("TIMEOUT");
    expect(failure.message).toContain("wall-clock limit of 2500 ms");
    expect(failure.output).toBe(output);
    expect(failure.durationMs).toBe(77);
  });

  it("the harness's exit status for a closed result channel is a RUNTIME_ERROR saying so", () => {
    const failure = failureOf(outcome({ exitCode: RESULT_CHANNEL_LOST_EXIT }));
    expect(failure.code).toBe("RUNTIME_ERROR");
    expect(failure.message).toContain("closed or wrote over the harness's result channel");
  });

  it("timedOut wins over a malformed report", () => {
    expect(failureOf(outcome({ timedOut: true, report: { kind: "malformed" } })).code).toBe("TIMEOUT");
  });

  it("SIGXCPU is TIMEOUT naming the CPU time limit", () => {
    const failure = failureOf(outcome({ signal: "SIGXCPU" }));
    expect(failure.code).toBe("TIMEOUT");
    expect(failure.message).toContain(`CPU time limit (at most ${cpuSecondsFor(2500)} s) was reached`);
  });

  it("SIGSEGV is RESOURCE_LIMIT_EXCEEDED naming the crash", () => {
    const failure = failureOf(outcome({ signal: "SIGSEGV" }));
    expect(failure.code).toBe("RESOURCE_LIMIT_EXCEEDED");
    expect(failure.message).toContain("SIGSEGV");
  });

  it.each(["SIGBUS", "SIGABRT", "SIGXFSZ"])("%s is RESOURCE_LIMIT_EXCEEDED naming the signal", (signal) => {
    const failure = failureOf(outcome({ signal }));
    expect(failure.code).toBe("RESOURCE_LIMIT_EXCEEDED");
    expect(failure.message).toContain(signal);
  });

  it("an unexplained SIGKILL is RESOURCE_LIMIT_EXCEEDED saying the interpreter was killed", () => {
    const failure = failureOf(outcome({ signal: "SIGKILL" }));
    expect(failure.code).toBe("RESOURCE_LIMIT_EXCEEDED");
    expect(failure.message).toBe("The Python interpreter was killed by SIGKILL");
  });

  it("an exit without a report is SCRIPT_EXITED with the exit status", () => {
    const failure = failureOf(outcome({ exitCode: 3 }));
    expect(failure.code).toBe("SCRIPT_EXITED");
    expect(failure.message).toContain("exit status 3");
    expect(failure.output).toBe(output);
  });

  it("an exit with status 0 and no report is still SCRIPT_EXITED (os._exit(0) before main() returned)", () => {
    expect(failureOf(outcome({ exitCode: 0 })).code).toBe("SCRIPT_EXITED");
  });

  it("neither exit code nor signal says so", () => {
    expect(failureOf(outcome({})).message).toContain("exit status unknown");
  });

  it("memoryLimitHit is MEMORY_LIMIT_EXCEEDED with the limit, whatever signal killed it", () => {
    const failure = failureOf(outcome({ memoryLimitHit: true, signal: "SIGKILL" }));
    expect(failure.code).toBe("MEMORY_LIMIT_EXCEEDED");
    expect(failure.message).toContain("Memory limit exceeded");
    expect(failure.message).toContain("128 MB");
  });

  const blamed = (limit: "memory" | "processes", code: "MEMORY_LIMIT_EXCEEDED" | "RESOURCE_LIMIT_EXCEEDED"): HarnessReport => ({
    kind: "error",
    code,
    message: `${limit} limit`,
    traceback: "Traceback ...",
    limit,
    exception: "BlockingIOError: [Errno 11] Resource temporarily unavailable",
  });

  it("a limit the harness blamed stands where the cgroup saw it hit, or where there is no cgroup to ask", () => {
    expect(failureOf(outcome({ report: blamed("processes", "RESOURCE_LIMIT_EXCEEDED"), limitsHit: { memory: false, processes: true } })).code).toBe(
      "RESOURCE_LIMIT_EXCEEDED",
    );
    expect(failureOf(outcome({ report: blamed("memory", "MEMORY_LIMIT_EXCEEDED") })).code).toBe("MEMORY_LIMIT_EXCEEDED");
  });

  it("a limit the harness blamed but the cgroup did not see hit is the script's own RUNTIME_ERROR", () => {
    const failure = failureOf(outcome({ report: blamed("processes", "RESOURCE_LIMIT_EXCEEDED"), limitsHit: { memory: true, processes: false } }));
    expect(failure.code).toBe("RUNTIME_ERROR");
    expect(failure.message).toBe("BlockingIOError: [Errno 11] Resource temporarily unavailable");
    expect(failure.traceback).toBe("Traceback ...");
    expect(failureOf(outcome({ report: blamed("memory", "MEMORY_LIMIT_EXCEEDED"), limitsHit: { memory: false, processes: true } })).code).toBe("RUNTIME_ERROR");
  });

  it("a malformed report (the script wrote over the result channel) is RUNTIME_ERROR, never a success", () => {
    const failure = failureOf(outcome({ report: { kind: "malformed" }, exitCode: 0 }));
    expect(failure.code).toBe("RUNTIME_ERROR");
    expect(failure.message).toContain("result channel");
  });

  it("a malformed report from a process killed by a signal is still RUNTIME_ERROR", () => {
    expect(failureOf(outcome({ report: { kind: "malformed" }, signal: "SIGSEGV" })).code).toBe("RUNTIME_ERROR");
  });
});
