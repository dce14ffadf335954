import { describe, expect, it } from "vitest";
import { jsonSyntaxError, notJsonMessage } from "./json-syntax.js";

/** The offset JSON.parse names for `text` when it names one ("... at position 14 (line 1 column 15)"). */
function v8Offset(text: string): number | undefined {
  try {
    JSON.parse(text);
  } catch (error) {
    const position = /at position (\d+)/.exec((error as Error).message)?.[1];
    return position === undefined ? undefined : Number(position);
  }
  throw new Error(`${JSON.stringify(text)} is JSON`);
}

describe("jsonSyntaxError", () => {
  it.each([
    '{"script": "x"}',
    ' \n\t{"script": "def main():\\n    return \\"\\u00e9\\"", "args": {"a": [1, -2.5e+3, 0, true, false, null, {}, []]}}\r\n',
    "[]",
    '"just a string"',
    "-0.0E-7",
    "null",
    `${"[".repeat(100_000)}${"]".repeat(100_000)}`,
  ])("finds nothing wrong with JSON: %s", (text) => {
    expect(() => JSON.parse(text)).not.toThrow();
    expect(jsonSyntaxError(text)).toBeUndefined();
  });

  it.each<[string, string, string, number]>([
    ["truncated JSON", '{"script": "x"', "the text ends before its closing }", 15],
    ["a trailing comma", '{"a": 1,}', "expected a property name in double quotes", 9],
    ["a missing comma", '{"a": 1 "b": 2}', "expected , or } after a property value", 9],
    ["a missing comma in an array", "[1 2]", "expected , or ] after an array element", 4],
    ["a missing colon", '{"a" 1}', "expected : after the property name", 6],
    ["a name in single quotes", "{'script': 'x'}", "expected a property name in double quotes", 2],
    ["a raw line break in a string", '{"a": "x\ny"}', "a control character in a string: escape it (a line break is \\n)", 9],
    ["text after the value", '{"a": 1} x', "unexpected text after the JSON value", 10],
    ["a leading zero", '{"a": 01}', "an invalid number (JSON writes no leading zeros, and digits after a minus sign, a . and an e)", 7],
    ["a bad escape", '"\\x"', 'an invalid escape in a string (JSON has \\" \\\\ \\/ \\b \\f \\n \\r \\t and \\uXXXX)', 2],
  ])("%s: names the problem and its position as JSON.parse does", (_name, text, problem, column) => {
    const error = jsonSyntaxError(text);
    expect(error).toEqual({ offset: column - 1, line: 1, column, problem });
    const v8 = v8Offset(text);
    if (v8 !== undefined && !problem.startsWith("an invalid")) expect(error?.offset).toBe(v8);
  });

  it.each<[string, string]>([
    ["def main():\n    return 1", "def is not a JSON value (JSON has true, false, null and numbers)"],
    ['{"a": True}', "True is not a JSON value (JSON has true, false, null and numbers)"],
    ['{"a": NaN}', "NaN is not a JSON value (JSON has true, false, null and numbers)"],
    ["{\"a\": 'x'}", "a string must be in double quotes, not single"],
    ['{"a": }', 'unexpected "}" where a value should be'],
    ['{"a": "never closed}', 'a string with no closing "'],
  ])("says what stands where a value should: %s", (text, problem) => {
    expect(jsonSyntaxError(text)?.problem).toBe(problem);
  });

  it("counts lines and columns from 1, across line breaks", () => {
    const text = '{\n  "script": "x",\n  "timeoutMs": 5000\n  "args": {}\n}';
    expect(jsonSyntaxError(text)).toMatchObject({ line: 4, column: 3, offset: v8Offset(text) });
  });

  it("a body nested a million deep and never closed is told like any other", () => {
    expect(jsonSyntaxError("[".repeat(1_000_000))).toMatchObject({ line: 1, column: 1_000_001, problem: "the text ends where a value should be" });
  });
});

describe("notJsonMessage", () => {
  it("names the problem, the line and the column", () => {
    expect(notJsonMessage('{"script": "x",\n "args": {"a": 1,}}')).toBe(
      "The request body is not valid JSON: expected a property name in double quotes, at line 2, column 18",
    );
  });

  it("a body that is not JSON from its first character is most likely the script itself: says what to send", () => {
    expect(notJsonMessage("def main():\n    return 1")).toBe(
      'The request body is not valid JSON: def is not a JSON value (JSON has true, false, null and numbers), at line 1, column 1; send a JSON object such as {"script": "def main():\\n    return 1"}',
    );
  });

  it.each(["", "  \n"])("an empty body says so: %j", (body) => {
    expect(notJsonMessage(body)).toBe('The request body is empty: send a JSON object such as {"script": "def main():\\n    return 1"}');
  });
});
