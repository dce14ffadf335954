/** Where a text stops being JSON, and why. Line and column count from 1, in UTF-16 code units as JavaScript strings do. */
export interface JsonSyntaxError {
  readonly offset: number;
  readonly line: number;
  readonly column: number;
  readonly problem: string;
}

const WHITESPACE = new Set([" ", "\t", "\n", "\r"]);
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const WORD = /[A-Za-z_$][\w$]*/y;
const ESCAPE = /\\(?:["\\/bfnrt]|u[0-9A-Fa-f]{4})/y;
const LITERALS = ["true", "false", "null"] as const;

function located(text: string, offset: number, problem: string): JsonSyntaxError {
  const lineStart = text.lastIndexOf("\n", offset - 1) + 1;
  let line = 1;
  for (let at = text.indexOf("\n"); at !== -1 && at < offset; at = text.indexOf("\n", at + 1)) line++;
  return { offset, line, column: offset - lineStart + 1, problem };
}

/** What stands at `at` where a value should: a hint for what clients write instead of JSON. */
function notAValue(text: string, at: number): string {
  const char = text[at];
  if (char === undefined) return "the text ends where a value should be";
  if (char === "'") return "a string must be in double quotes, not single";
  WORD.lastIndex = at;
  const word = WORD.exec(text)?.[0];
  if (word !== undefined) return `${word} is not a JSON value (JSON has true, false, null and numbers)`;
  return `unexpected ${JSON.stringify(char)} where a value should be`;
}

/**
 * Where `text` stops being JSON (RFC 8259, as JSON.parse reads it), or undefined when it is
 * JSON. Read without recursion, so a body nested a million deep is told like any other.
 */
export function jsonSyntaxError(text: string): JsonSyntaxError | undefined {
  let at = 0;
  /** The closing bracket of each array and object open at `at`, innermost last. */
  const open: ("]" | "}")[] = [];
  let expecting: "value" | "value or ]" | "name" | "name or }" | "after a value" = "value";
  const fail = (problem: string, offset = at) => located(text, offset, problem);

  /** Moves past the string at `at`, or says what is wrong with it. */
  const string = (): JsonSyntaxError | undefined => {
    const start = at;
    at++;
    for (;;) {
      const char = text[at];
      if (char === undefined) return fail('a string with no closing "', start);
      if (char === '"') {
        at++;
        return undefined;
      }
      if (char === "\\") {
        ESCAPE.lastIndex = at;
        if (!ESCAPE.test(text)) return fail('an invalid escape in a string (JSON has \\" \\\\ \\/ \\b \\f \\n \\r \\t and \\uXXXX)');
        at = ESCAPE.lastIndex;
      } else if (char < " ") {
        return fail("a control character in a string: escape it (a line break is \\n)");
      } else at++;
    }
  };

  for (;;) {
    while (WHITESPACE.has(text[at] ?? "")) at++;
    const char = text[at];
    const closer = open.at(-1);
    if (expecting === "after a value") {
      if (closer === undefined) return char === undefined ? undefined : fail("unexpected text after the JSON value");
      if (char === ",") {
        at++;
        expecting = closer === "}" ? "name" : "value";
      } else if (char === closer) {
        at++;
        open.pop();
      } else {
        const after = closer === "}" ? "a property value" : "an array element";
        return fail(char === undefined ? `the text ends before its closing ${closer}` : `expected , or ${closer} after ${after}`);
      }
      continue;
    }
    // An empty object or array closes where its first member could begin.
    if ((expecting === "name or }" && char === "}") || (expecting === "value or ]" && char === "]")) {
      at++;
      open.pop();
      expecting = "after a value";
      continue;
    }
    if (expecting === "name" || expecting === "name or }") {
      if (char !== '"') return fail(char === undefined ? "the text ends where a property name should be" : "expected a property name in double quotes");
      const problem = string();
      if (problem) return problem;
      while (WHITESPACE.has(text[at] ?? "")) at++;
      if (text[at] !== ":") return fail("expected : after the property name");
      at++;
      expecting = "value";
      continue;
    }
    if (char === "{" || char === "[") {
      at++;
      open.push(char === "{" ? "}" : "]");
      expecting = char === "{" ? "name or }" : "value or ]";
      continue;
    }
    if (char === '"') {
      const problem = string();
      if (problem) return problem;
      expecting = "after a value";
      continue;
    }
    NUMBER.lastIndex = at;
    const literal = LITERALS.find((word) => text.startsWith(word, at));
    if (literal !== undefined) at += literal.length;
    else if (NUMBER.test(text) && !/[\d.eE]/.test(text[NUMBER.lastIndex] ?? "")) at = NUMBER.lastIndex;
    else if (char === "-" || (char !== undefined && char >= "0" && char <= "9")) {
      return fail("an invalid number (JSON writes no leading zeros, and digits after a minus sign, a . and an e)");
    } else return fail(notAValue(text, at));
    expecting = "after a value";
  }
}

const EXAMPLE_BODY = '{"script": "def main():\\n    return 1"}';

/** The message of an INVALID_REQUEST for a body that is not JSON: where it stops being JSON, and why. */
export function notJsonMessage(body: string): string {
  if (body.trim() === "") return `The request body is empty: send a JSON object such as ${EXAMPLE_BODY}`;
  const error = jsonSyntaxError(body);
  if (error === undefined) return "The request body is not valid JSON";
  const where = `The request body is not valid JSON: ${error.problem}, at line ${error.line}, column ${error.column}`;
  // Not JSON from its first character: most likely the script itself, sent as the body.
  return error.offset === body.search(/\S/) ? `${where}; send a JSON object such as ${EXAMPLE_BODY}` : where;
}
