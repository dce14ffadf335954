import { describe, expect, it } from "vitest";
import type { ExecutionRequest } from "../../domain/execution-request.js";
import { FAILURE_CODES, REPORTED_FAILURE_CODES } from "../../domain/failure-code.js";
import { encodeHarnessRequest, harnessRequestFor, maxReportBytes, parseHarnessReport } from "./harness-protocol.js";
import { MAX_RESULT_DEPTH } from "./protocol-facts.js";

const utf8 = (text: string) => new TextEncoder().encode(text);
const report = (header: unknown, body: string | Uint8Array = "") => {
  const bytes = typeof body === "string" ? utf8(body) : body;
  return Uint8Array.from([...utf8(`${JSON.stringify(header)}\n`), ...bytes]);
};
/** A success report as the harness writes it: the header measures the result. */
const okReport = (resultJson: string, extra: Record<string, unknown> = {}, after: Uint8Array = new Uint8Array(0)) =>
  report({ status: "ok", resultBytes: utf8(resultJson).length, ...extra }, Uint8Array.from([...utf8(resultJson), ...after]));
const MAX_RESULT_BYTES = 1024;
const parse = (bytes: Uint8Array) => parseHarnessReport(bytes, MAX_RESULT_BYTES);

describe("parseHarnessReport", () => {
  it("a forged result that is not strict JSON is malformed: non-finite numbers, lone surrogates, nesting past the harness's", () => {
    for (const body of ['{"d": 1E400}', "[-1e999]", '"\\ud800"', '{"\\udc00": 1}', `${"[".repeat(MAX_RESULT_DEPTH + 1)}${"]".repeat(MAX_RESULT_DEPTH + 1)}`]) {
      expect(parseHarnessReport(okReport(body), 1 << 20), body.slice(0, 20)).toEqual({ kind: "malformed" });
    }
    const deepest = `${"[".repeat(MAX_RESULT_DEPTH)}${"]".repeat(MAX_RESULT_DEPTH)}`;
    expect(parseHarnessReport(okReport(deepest), 1 << 20)).toEqual({ kind: "ok", resultJson: deepest });
    expect(parse(okReport('{"pair": "\\ud83d\\udc0d", "zero": -0}'))).toMatchObject({ kind: "ok" });
  });

  it("an integer of any size is the exact text the harness wrote; a float that overflows is forged", () => {
    const huge = `1${"0".repeat(100_000)}`;
    for (const body of [huge, `-${huge}`, `{"n": [${huge}]}`]) {
      expect(parseHarnessReport(okReport(body), 1 << 20)).toEqual({ kind: "ok", resultJson: body });
    }
    for (const body of [`${huge}.0`, `${huge}e0`, "1e400"]) {
      expect(parseHarnessReport(okReport(body), 1 << 20), body.slice(-8)).toEqual({ kind: "malformed" });
    }
  });

  it("a lone surrogate in a message or traceback becomes U+FFFD", () => {
    expect(parse(report({ status: "error", code: "RUNTIME_ERROR", message: "E: \ud800", traceback: "\udc00" }))).toEqual({
      kind: "error",
      code: "RUNTIME_ERROR",
      message: "E: \ufffd",
      traceback: "\ufffd",
    });
  });

  it("a result over the limit is RESULT_TOO_LARGE, even when the script wrote the report itself", () => {
    const atLimit = `"${"x".repeat(MAX_RESULT_BYTES - 2)}"`;
    expect(parse(okReport(atLimit))).toEqual({ kind: "ok", resultJson: atLimit });
    expect(parse(okReport(`"${"x".repeat(MAX_RESULT_BYTES - 1)}"`))).toMatchObject({ kind: "error", code: "RESULT_TOO_LARGE" });
  });

  it("nothing written is `none` (the process died before reporting)", () => {
    expect(parse(new Uint8Array(0))).toEqual({ kind: "none" });
  });

  it("an ok report carries the result JSON text exactly as written", () => {
    const resultJson = '{"big": 18446744073709551616, "f": 1.0, "s": "line\\nbreak", "u": "héllo 🐍"}';
    expect(parse(okReport(resultJson))).toEqual({ kind: "ok", resultJson });
  });

  it.each(["null", "0", '""', "[]", '"multi\\nline"'])("an ok report with the JSON value %s", (resultJson) => {
    expect(parse(okReport(resultJson))).toEqual({ kind: "ok", resultJson });
  });

  it("an error report carries code, message and traceback", () => {
    const parsed = parse(
      report({ status: "error", code: "RUNTIME_ERROR", message: "ZeroDivisionError: division by zero", traceback: '  File "script.py", line 2' }),
    );
    expect(parsed).toEqual({
      kind: "error",
      code: "RUNTIME_ERROR",
      message: "ZeroDivisionError: division by zero",
      traceback: '  File "script.py", line 2',
    });
  });

  it.each(REPORTED_FAILURE_CODES)("accepts the harness code %s", (code) => {
    expect(parse(report({ status: "error", code, message: "m" }))).toEqual({ kind: "error", code, message: "m" });
  });

  it("an error without a message uses the code; a non-string traceback is left out", () => {
    expect(parse(report({ status: "error", code: "MAIN_NOT_FOUND", traceback: 42 }))).toEqual({
      kind: "error",
      code: "MAIN_NOT_FOUND",
      message: "MAIN_NOT_FOUND",
    });
  });

  it.each([
    // Codes the harness may not claim: they belong to the server, the backend or the HTTP edge.
    ...FAILURE_CODES.filter((code) => !(REPORTED_FAILURE_CODES as readonly string[]).includes(code)),
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
    ["an ok result that is not JSON", okReport("{not json")],
    ["an ok result that is NaN", okReport("NaN")],
    ["an ok report with no result", okReport("")],
    ["an ok result with trailing garbage", okReport('{"a":1} extra')],
    ["an ok report that does not measure its result", report({ status: "ok" }, "1")],
    ["an ok report whose result is longer than its body", report({ status: "ok", resultBytes: 5 }, "1")],
    ["an ok report with bytes nothing accounts for", report({ status: "ok", resultBytes: 1 }, "12")],
    ["files that are not a list", okReport("1", { files: { path: "a" } })],
    ["a file without a path", okReport("1", { files: [{ size: 1 }] })],
    ["a file with a negative size", okReport("1", { files: [{ path: "a", size: -1 }] })],
    ["a file's content longer than the body", okReport("1", { files: [{ path: "a", size: 9, contentBytes: 9 }] }, utf8("abc"))],
    ["a figure without its size", okReport("1", { figures: [{ contentBytes: 1 }] }, utf8("x"))],
    ["an error report with bytes nothing accounts for", report({ status: "error", code: "RUNTIME_ERROR", message: "m" }, "x")],
    ["stray bytes", Uint8Array.from([0xff, 0xfe, 0x0a, 0x00])],
  ])("%s is malformed", (_name, bytes) => {
    expect(parse(bytes)).toEqual({ kind: "malformed" });
  });
});

describe("parseHarnessReport: files and figures", () => {
  const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

  it("reads each listed file's content from the body, after the result: UTF-8 text as such, other bytes as base64", () => {
    const body = Uint8Array.from([...utf8("a,b\n1,2\n"), 0xff, 0x00, 0x80, ...png]);
    const parsed = parse(
      okReport(
        '{"n":1}',
        {
          files: [
            { path: "out/table.csv", size: 8, contentBytes: 8 },
            { path: "blob.bin", size: 3, contentBytes: 3 },
            { path: "big.log", size: 9_000_000 },
          ],
          filesTruncated: true,
          figures: [{ width: 640, height: 480, contentBytes: png.length }],
          figuresTruncated: false,
        },
        body,
      ),
    );
    expect(parsed).toEqual({
      kind: "ok",
      resultJson: '{"n":1}',
      artifacts: {
        files: [
          { path: "out/table.csv", size: 8, mediaType: "text/csv", encoding: "utf-8", content: "a,b\n1,2\n" },
          { path: "blob.bin", size: 3, mediaType: "application/octet-stream", encoding: "base64", content: "/wCA" },
          { path: "big.log", size: 9_000_000, mediaType: "text/plain" },
        ],
        filesTruncated: true,
        figures: [{ mediaType: "image/png", encoding: "base64", content: Buffer.from(png).toString("base64"), width: 640, height: 480 }],
        figuresTruncated: false,
      },
    });
  });

  it("an error report carries the files the run left before failing", () => {
    const parsed = parse(
      report({ status: "error", code: "RUNTIME_ERROR", message: "m", files: [{ path: "partial.txt", size: 2, contentBytes: 2 }], filesTruncated: false }, "ok"),
    );
    expect(parsed).toMatchObject({ kind: "error", artifacts: { files: [{ path: "partial.txt", content: "ok" }], figures: [] } });
  });

  it("a report that lists nothing has no artifacts", () => {
    expect(parse(okReport("1"))).not.toHaveProperty("artifacts");
  });

  it("a cell's repr is a JSON string the report names as such; the result of any other report is the value itself", () => {
    expect(parse(okReport('"{1, 2}"', { resultKind: "repr" }))).toEqual({ kind: "ok", resultJson: '"{1, 2}"', resultKind: "repr" });
    expect(parse(okReport('"{1, 2}"'))).toEqual({ kind: "ok", resultJson: '"{1, 2}"' });
    expect(parse(okReport("[1, 2]", { resultKind: "repr" }))).toEqual({ kind: "malformed" });
    expect(parse(okReport("1", { resultKind: "json" }))).toEqual({ kind: "malformed" });
  });
});

describe("maxReportBytes", () => {
  it("makes room for the result, the file contents and figures, and an entry per listed file and figure", () => {
    const none = maxReportBytes(1000, { maxFiles: 0, maxBytes: 0, maxFigures: 0 });
    expect(maxReportBytes(1000, { maxFiles: 0, maxBytes: 5000, maxFigures: 0 })).toBe(none + 5000);
    expect(maxReportBytes(1000, { maxFiles: 1, maxBytes: 0, maxFigures: 0 })).toBeGreaterThan(none + 6 * 4096);
    expect(maxReportBytes(2000, { maxFiles: 0, maxBytes: 0, maxFigures: 0 })).toBe(none + 1000);
  });
});

describe("harnessRequestFor", () => {
  const fixed = { limits: {}, maxResultBytes: 10, artifactLimits: { maxFiles: 1, maxBytes: 2, maxFigures: 3 } };
  const request: ExecutionRequest = { script: "x = 2\nx * 21", timeoutMs: 1000, memoryMb: 64 };

  it("names the entry mode the request asks for, and main() where it asks for none (POST /execute's contract)", () => {
    expect(harnessRequestFor(request, fixed).entry).toBe("main");
    for (const entry of ["main", "main-or-cell", "cell"] as const) {
      const encoded = new TextDecoder().decode(encodeHarnessRequest(harnessRequestFor({ ...request, entry }, fixed)));
      expect(JSON.parse(encoded)).toEqual({ script: request.script, entry, memoryMb: 64, ...fixed });
    }
  });
});

describe("encodeHarnessRequest", () => {
  it("splices the args in as the client wrote them", () => {
    const request = {
      script: "s",
      entry: "main" as const,
      limits: {},
      memoryMb: 64,
      maxResultBytes: 10,
      artifactLimits: { maxFiles: 1, maxBytes: 2, maxFigures: 3 },
      argsJson: '{"big":18446744073709551616,"f":1.0}',
    };
    const text = new TextDecoder().decode(encodeHarnessRequest(request));
    expect(text.startsWith('{"args":{"big":18446744073709551616,"f":1.0},"script":"s",')).toBe(true);
    expect(JSON.parse(text)).not.toHaveProperty("argsJson");
  });

  it("is the JSON the harness reads from stdin", () => {
    const request = {
      script: "print('é')",
      entry: "main-or-cell" as const,
      limits: { cpuSeconds: 3 },
      memoryMb: 64,
      maxResultBytes: 10,
      artifactLimits: { maxFiles: 1, maxBytes: 2, maxFigures: 3 },
      files: [{ path: "a/b.txt", content: "AAE=", encoding: "base64" as const }],
    };
    expect(JSON.parse(new TextDecoder().decode(encodeHarnessRequest(request)))).toEqual(request);
  });
});
