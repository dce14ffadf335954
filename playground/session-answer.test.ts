import { describe, expect, it } from "vitest";
import { JsonNumber } from "./exact-json.js";
import { readCellAnswer, startFailure } from "./session-answer.js";

const ok = (fields: Record<string, unknown>) =>
  JSON.stringify({ stdout: "", stderr: "", stdoutTruncated: false, stderrTruncated: false, durationMs: 3, ...fields });

describe("readCellAnswer", () => {
  it("a repr result is its text, not a JSON string", () => {
    const outcome = readCellAnswer(200, ok({ result: "   n\n0  1", resultKind: "repr" }));
    expect(outcome).toMatchObject({ kind: "ok", result: { kind: "repr", text: "   n\n0  1" } });
  });

  it("a JSON result keeps each number as the service spelled it", () => {
    const outcome = readCellAnswer(200, `{"result": {"big": 18446744073709551617, "f": 23.0}, "resultKind": "json", "stdout": "", "stderr": ""}`);
    expect(outcome).toMatchObject({ kind: "ok", result: { kind: "json", value: { big: new JsonNumber("18446744073709551617"), f: new JsonNumber("23.0") } } });
    // A string result of kind json is a JSON string (shown quoted), unlike a repr.
    expect(readCellAnswer(200, ok({ result: "s", resultKind: "json" }))).toMatchObject({ result: { kind: "json", value: "s" } });
    // Without resultKind the result is JSON, as /execute's is.
    expect(readCellAnswer(200, ok({ result: 42 }))).toMatchObject({ result: { kind: "json", value: new JsonNumber("42") } });
  });

  it("a cell that ends with a statement, or whose value is None, shows no result", () => {
    expect(readCellAnswer(200, ok({ result: null, resultKind: "json" }))).toMatchObject({ kind: "ok", result: { kind: "none" } });
  });

  it("an error body is a failure, which says whether it ended the session", () => {
    const failure = { error: "NameError: name 'x' is not defined", code: "RUNTIME_ERROR", stdout: "", stderr: "", traceback: "Traceback ..." };
    expect(readCellAnswer(400, JSON.stringify(failure))).toMatchObject({ kind: "failed", sessionEnded: false, body: failure });
    const ended = { ...failure, code: "MEMORY_LIMIT_EXCEEDED", error: "out of memory", sessionEnded: true };
    expect(readCellAnswer(507, JSON.stringify(ended))).toMatchObject({ kind: "failed", sessionEnded: true });
  });

  it("404 SESSION_NOT_FOUND says the session is gone", () => {
    const gone = { error: "No session abc", code: "SESSION_NOT_FOUND", stdout: "", stderr: "" };
    expect(readCellAnswer(404, JSON.stringify(gone))).toEqual({ kind: "session-gone", body: gone });
  });

  it("an answer that is not JSON, or not an object, is shown raw", () => {
    expect(readCellAnswer(502, "<html>Bad gateway</html>")).toEqual({ kind: "not-json", status: 502, text: "<html>Bad gateway</html>" });
    expect(readCellAnswer(200, "null")).toEqual({ kind: "not-json", status: 200, text: "null" });
  });
});

describe("startFailure", () => {
  it("names the code and the error, and when SESSION_LIMIT says to try again", () => {
    const body = JSON.stringify({ error: "Too many sessions", code: "SESSION_LIMIT", stdout: "", stderr: "" });
    expect(startFailure(429, body, "30")).toBe("SESSION_LIMIT: Too many sessions (try again in 30 s)");
    expect(startFailure(429, body, null)).toBe("SESSION_LIMIT: Too many sessions");
    expect(startFailure(429, body, "Wed, 21 Oct 2026 07:28:00 GMT")).toBe("SESSION_LIMIT: Too many sessions");
  });

  it("falls back to the HTTP status when the body says nothing", () => {
    expect(startFailure(502, "Bad gateway", null)).toBe("HTTP 502");
    expect(startFailure(401, JSON.stringify({ error: "Missing API key" }), null)).toBe("Missing API key");
  });
});
