import { describe, expect, it } from "vitest";
import { MIN_MEMORY_MB } from "../domain/execution-request.js";
import { clientPath, invalidRequestMessage } from "./request-issues.js";
import { executeRequestSchema } from "./schemas.js";

const LIMITS = { maxTimeoutMs: 30_000, maxMemoryMb: 512, maxInputFiles: 3, maxInputFilesBytes: 1000 };
const schema = executeRequestSchema(LIMITS);

/** The INVALID_REQUEST message for a request body, as POST /execute and run_python give it. */
function messageFor(body: unknown): string {
  const parsed = schema.safeParse(body);
  if (parsed.success) throw new Error(`${JSON.stringify(body)} passed the schema`);
  return invalidRequestMessage(parsed.error.issues);
}

const problems = (body: unknown): string[] =>
  messageFor(body)
    .replace(/^Invalid request: /, "")
    .split("; ");

describe("the request's issues in the client's words", () => {
  it.each<[string, unknown, string]>([
    ["an unknown field close to a known one", { script: "x", timeout: 5 }, "unknown field `timeout`; did you mean `timeoutMs`?"],
    ["a typo of args", { script: "x", arg: { n: 1 } }, "unknown field `arg`; did you mean `args`?"],
    ["an unknown field close to none", { script: "x", foo: 1 }, "unknown field `foo`"],
    [
      "an unknown field in a file",
      { script: "x", files: [{ path: "a", content: "x", encodng: "base64" }] },
      "unknown field `files[0].encodng`; did you mean `encoding`?",
    ],
    ["a missing script", {}, "script is required"],
    ["a null script", { script: null }, "script must be a string of Python source, not null"],
    ["a script that is a number", { script: 42 }, "script must be a string of Python source, not 42"],
    ["an empty script", { script: "" }, "script must not be empty"],
    ["args as an array", { script: "x", args: [1, 2] }, "args must be a JSON object of main()'s arguments by name, not an array"],
    ["args as null", { script: "x", args: null }, "args must be a JSON object of main()'s arguments by name, not null"],
    ["timeoutMs 1.5", { script: "x", timeoutMs: 1.5 }, "timeoutMs must be a whole number of milliseconds, not 1.5"],
    ["timeoutMs 0", { script: "x", timeoutMs: 0 }, "timeoutMs must be at least 1"],
    ["timeoutMs -1", { script: "x", timeoutMs: -1 }, "timeoutMs must be at least 1"],
    ["timeoutMs as a string", { script: "x", timeoutMs: "5000" }, 'timeoutMs must be a whole number of milliseconds, not the string "5000"'],
    ["timeoutMs over the maximum", { script: "x", timeoutMs: 30_001 }, "timeoutMs must be at most 30000"],
    ["memoryMb too small", { script: "x", memoryMb: 1 }, `memoryMb must be at least ${MIN_MEMORY_MB}`],
    ["memoryMb over the maximum", { script: "x", memoryMb: 513 }, "memoryMb must be at most 512"],
    ["memoryMb 12.5", { script: "x", memoryMb: 12.5 }, "memoryMb must be a whole number of megabytes, not 12.5"],
    ["files not an array", { script: "x", files: { path: "a" } }, "files must be an array, not an object"],
    ["a file that is not an object", { script: "x", files: ["a.csv"] }, 'files[0] must be a JSON object {path, content, encoding?}, not the string "a.csv"'],
    ["a file without content", { script: "x", files: [{ path: "a" }] }, "files[0].content is required"],
    ["an unknown encoding", { script: "x", files: [{ path: "a", content: "", encoding: "hex" }] }, 'files[0].encoding must be "utf-8" or "base64", not "hex"'],
    [
      "an unsafe path",
      { script: "x", files: [{ path: "/etc/passwd", content: "" }] },
      'files[0].path "/etc/passwd" is absolute; give a path relative to the work dir',
    ],
    ["an empty path", { script: "x", files: [{ path: "", content: "" }] }, "files[0].path is empty"],
    ["a body that is an array", ["x"], "the request must be a JSON object, not an array"],
    ["a body that is null", null, "the request must be a JSON object, not null"],
  ])("%s", (_name, body, sentence) => {
    expect(messageFor(body)).toBe(`Invalid request: ${sentence}`);
  });

  it("code instead of script: script is required, and the unknown field points to it", () => {
    expect(problems({ code: "def main(): ..." })).toEqual(["script is required", "unknown field `code`", "the script goes in `script`"]);
  });

  it.each(["source", "python", "program", "src"])("%s instead of script points to script too", (alias) => {
    expect(messageFor({ [alias]: "def main(): ..." })).toContain(`unknown field \`${alias}\`; the script goes in \`script\``);
  });

  it("each unknown field is named, with its own suggestion or none", () => {
    expect(messageFor({ script: "x", timeout: 5, memory: 64, colour: "red" })).toBe(
      "Invalid request: unknown field `timeout`; did you mean `timeoutMs`?; unknown field `memory`; did you mean `memoryMb`?; unknown field `colour`",
    );
  });

  it("several problems at once are all listed, in the order of the fields", () => {
    const message = messageFor({
      script: "",
      timeoutMs: 0,
      args: [],
      files: [{ path: "../x", content: "", encoding: "hex" }, 3],
      timeout: 5,
    });
    expect(message).toBe(
      "Invalid request: script must not be empty; timeoutMs must be at least 1; args must be a JSON object of main()'s arguments by name, not an array; " +
        'files[0].encoding must be "utf-8" or "base64", not "hex"; files[1] must be a JSON object {path, content, encoding?}, not 3; ' +
        "unknown field `timeout`; did you mean `timeoutMs`?",
    );
  });

  it("a long string value is not repeated back", () => {
    expect(messageFor({ script: "x", timeoutMs: "9".repeat(100) })).toBe(
      "Invalid request: timeoutMs must be a whole number of milliseconds, not a long string",
    );
  });
});

describe("clientPath", () => {
  it.each<[PropertyKey[], string]>([
    [["script"], "script"],
    [["files", 2, "encoding"], "files[2].encoding"],
    [["files", 0], "files[0]"],
    [["args", "two words"], 'args["two words"]'],
  ])("%j is %s", (path, written) => {
    expect(clientPath(path)).toBe(written);
  });
});
