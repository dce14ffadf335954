import { describe, expect, it } from "vitest";
import { fixFor } from "./failure-fix.js";

const limits = { maxScriptBytes: 1, maxInputFiles: 1, maxInputFilesBytes: 1, maxTimeoutMs: 30_000, maxMemoryMb: 512 };
const script = "import pandas as pd\ndf = pd.read_csv('in.csv')\n\ndf['total'] = df['a'] +\n";

describe("fixFor", () => {
  it("a syntax error: the line it names, as the script wrote it", () => {
    const failed = { code: "SYNTAX_ERROR", message: "SyntaxError: invalid syntax (script.py, line 4, column 25)", script } as const;
    expect(fixFor(failed, limits)).toBe(`Fix the syntax at line 4: "df['total'] = df['a'] +".`);
    expect(fixFor({ ...failed, message: "SyntaxError: source code string cannot contain null bytes" }, limits)).toBe("Fix the syntax the error names.");
  });

  it("a runtime error: the script's innermost line of the traceback, past the libraries' frames", () => {
    const traceback = [
      "Traceback (most recent call last):",
      '  File "script.py", line 2, in <module>',
      "    df = pd.read_csv('in.csv')",
      '  File "/venv/pandas/io/parsers.py", line 912, in read_csv',
      "FileNotFoundError: [Errno 2] No such file or directory: 'in.csv'",
    ].join("\n");
    const fix = fixFor({ code: "RUNTIME_ERROR", message: "FileNotFoundError: ...", traceback, script }, limits);
    expect(fix).toBe(`The error comes from line 2: "df = pd.read_csv('in.csv')": fix the code there, or what the traceback shows led to it.`);
    expect(fixFor({ code: "RUNTIME_ERROR", message: "no traceback", script }, limits)).toBe("Fix the code the error names.");
  });

  it("a limit: how far the call may raise it", () => {
    expect(fixFor({ code: "TIMEOUT", message: "m", script }, limits)).toMatch(/timeoutMs is at most 30000 ms/);
    expect(fixFor({ code: "MEMORY_LIMIT_EXCEEDED", message: "m", script }, limits)).toMatch(/memoryMb is at most 512 MB/);
  });

  it("a busy service: when to call again", () => {
    expect(fixFor({ code: "BUSY", message: "m", retryAfterSeconds: 2, script }, limits)).toBe("Every sandbox is busy: call again in 2 s.");
  });

  it("nothing the call could change: no fix", () => {
    expect(fixFor({ code: "INTERNAL", message: "m", script }, limits)).toBeUndefined();
  });
});
