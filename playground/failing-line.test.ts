import { describe, expect, it } from "vitest";
import { failingLine } from "./failing-line.js";

describe("failingLine", () => {
  it("is the innermost script.py frame, past frames of the libraries it called", () => {
    const traceback = [
      "Traceback (most recent call last):",
      '  File "script.py", line 9, in main',
      "    return helper()",
      '  File "script.py", line 5, in helper',
      '    return pd.read_csv("missing.csv")',
      '  File "/venv/lib/python3.11/site-packages/pandas/io/parsers/readers.py", line 1026, in read_csv',
      "FileNotFoundError: [Errno 2] No such file or directory: 'missing.csv'",
    ].join("\n");
    expect(failingLine({ code: "RUNTIME_ERROR", error: "FileNotFoundError: ...", traceback })).toBe(5);
  });

  it("for a syntax error, the traceback's line, else the line its message names", () => {
    const error = "SyntaxError: invalid syntax (script.py, line 3, column 11)";
    expect(failingLine({ code: "SYNTAX_ERROR", error, traceback: '  File "script.py", line 3\n    x = 1 + \n' })).toBe(3);
    expect(failingLine({ code: "SYNTAX_ERROR", error })).toBe(3);
  });

  it("is undefined for a failure without a place in the script", () => {
    expect(failingLine({ code: "TIMEOUT", error: "Script execution timed out" })).toBeUndefined();
    expect(failingLine({ code: "RESULT_NOT_JSON", error: "result is numpy.ndarray, which is not JSON (script.py, line 2" })).toBeUndefined();
  });
});
