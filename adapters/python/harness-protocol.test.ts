import { describe, expect, it } from "vitest";
import type { CapturedOutput } from "../../domain/captured-output.js";
import type { ExecutionRequest } from "../../domain/execution-request.js";
import type { SandboxOutcome } from "../../domain/sandbox.port.js";
import {
  cpuSecondsFor,
  encodeHarnessRequest,
  outcomeOf,
  parseHarnessReport,
  RESULT_CHANNEL_LOST_EXIT,
  type HarnessReport,
  type ProcessEnding,
} from "./harness-protocol.js";

const utf8 = (text: string) => new TextEncoder().encode(text);
const report = (header: unknown, body = "") => utf8(`${JSON.stringify(header)}\n${body}`);
const MAX_RESULT_BYTES = 1024;
const parse = (bytes: Uint8Array) => parseHarnessReport(bytes, MAX_RESULT_BYTES);

describe("parseHarnessReport", () => {
  it("a result over the limit is RESULT_TOO_LARGE, even when the script wrote the report itself", () => {
    const atLimit = `"${"x".repeat(MAX_RESULT_BYTES - 2)}"`;
    expect(parse(report({ status: "ok" }, atLimit))).toEqual({ kind: "ok", resultJson: atLimit });
    expect(parse(report({ status: "ok" }, `"${"x".repeat(MAX_RESULT_BYTES - 1)}"`))).toMatchObject({ kind: "error", code: "RESULT_TOO_LARGE" });
  });

  it("nothing written is `none` (the process died before reporting)", () => {
    expect(parse(new Uint8Array(0))).toEqual({ kind: "none" });
  });

  it("an ok report carries the result JSON text exactly as written", () => {
    const resultJson = '{"big": 18446744073709551616, "f": 1.0, "s": "line\\nbreak", "u": "héllo 🐍"}';
    expect(parse(report({ status: "ok" }, resultJson))).toEqual({ kind: "ok", resultJson });
  });

  it.each(["null", "0", '""', "[]", '"multi\\nline"'])("an ok report with the JSON value %s", (resultJson) => {
    expect(parse(report({ status: "ok" }, resultJson))).toEqual({ kind: "ok", resultJson });
  });

  it("an error report carries code, message and traceback", () => {
    const parsed = parse(
      report({ status: "error", code: "RUNTIME_ERROR", message: "ZeroDivisionError: division by zero", traceback: "  File \"script.py\", line 2" }),
    );
    expect(parsed).toEqual({
      kind: "error",
      code: "RUNTIME_ERROR",
      message: "ZeroDivisionError: division by zero",
      traceback: '  File "script.py", line 2',
    });
  });

  it.each(["SYNTAX_ERROR", "MAIN_NOT_FOUND", "RUNTIME_ERROR", "RESULT_NOT_JSON", "RESULT_TOO_LARGE", "SCRIPT_EXITED", "MEMORY_LIMIT_EXCEEDED", "RESOURCE_LIMIT_EXCEEDED"])(
    "accepts the harness code %s",
    (code) => {
      expect(parse(report({ status: "error", code, message: "m" }))).toEqual({ kind: "error", code, message: "m" });
    },
  );

  it("an error without a message uses the code; a non-string traceback is left out", () => {
    expect(parse(report({ status: "error", code: "MAIN_NOT_FOUND", traceback: 42 }))).toEqual({
      kind: "error",
      code: "MAIN_NOT_FOUND",
      message: "MAIN_NOT_FOUND",
    });
  });

  it.each([
    // Codes the harness may not claim: they belong to the server, the backend or the HTTP edge.
    "TIMEOUT",
    "INTERNAL",
    "BUSY",
    "SANDBOX_UNAVAILABLE",
    "UNAUTHORIZED",
    "NOT_A_CODE",
  ])("an error with the code %s is malformed", (code) => {
    expect(parse(report({ status: "error", code, message: "forged" }))).toEqual({ kind: "malformed" });
  });

  it.each<[string, Uint8Array]>([
    ["no newline after the header", utf8('{"status":"ok"}')],
    ["a header that is not JSON", utf8("{status: ok}\n1")],
    ["a header that is JSON null", utf8("null\n1")],
    ["a header that is a number", utf8("42\n1")],
    ["a header that is an array", utf8('["ok"]\n1')],
    ["an unknown status", report({ status: "maybe" }, "1")],
    ["no status", report({ code: "RUNTIME_ERROR" }, "1")],
    ["an error whose code is not a string", report({ status: "error", code: 7 })],
    ["an ok result that is not JSON", report({ status: "ok" }, "{not json")],
    ["an ok result that is NaN", report({ status: "ok" }, "NaN")],
    ["an ok report with no result", report({ status: "ok" }, "")],
    ["an ok result with trailing garbage", report({ status: "ok" }, '{"a":1} extra')],
    ["stray bytes", Uint8Array.from([0xff, 0xfe, 0x0a, 0x00])],
  ])("%s is malformed", (_name, bytes) => {
    expect(parse(bytes)).toEqual({ kind: "malformed" });
  });
});

describe("encodeHarnessRequest", () => {
  it("is the JSON the harness reads from stdin", () => {
    const request = { script: "print('é')", limits: { cpuSeconds: 3 }, memoryMb: 64, maxResultBytes: 10 };
    expect(JSON.parse(new TextDecoder().decode(encodeHarnessRequest(request)))).toEqual(request);
  });
});

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

  it("an error report becomes that failure, with traceback, output and duration", () => {
    const failure = failureOf(
      outcome({ report: { kind: "error", code: "RUNTIME_ERROR", message: "ValueError: x", traceback: "tb" }, exitCode: 0 }),
    );
    expect(failure).toEqual({ code: "RUNTIME_ERROR", message: "ValueError: x", traceback: "tb", output, durationMs: 77 });
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
    expect(failure.message).toContain(`CPU time limit of ${cpuSecondsFor(2500)} s`);
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

  it("processLimitHit is RESOURCE_LIMIT_EXCEEDED about processes", () => {
    const failure = failureOf(outcome({ processLimitHit: true, exitCode: 1 }));
    expect(failure.code).toBe("RESOURCE_LIMIT_EXCEEDED");
    expect(failure.message).toMatch(/process limit/i);
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
