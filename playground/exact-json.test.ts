import { describe, expect, it } from "vitest";
import { formatJson, JsonNumber, parseExact } from "./exact-json.js";

describe("exact JSON", () => {
  it("keeps each number as it was spelled: big integers, float spellings, exponents", () => {
    const text = '{"big": 18446744073709551617, "f": 23.0, "e": 1e400, "n": -0.10000000000000000555, "i": 5}';
    const value = parseExact(text) as Record<string, JsonNumber>;
    expect(value.big).toEqual(new JsonNumber("18446744073709551617"));
    expect(formatJson(value)).toBe('{\n  "big": 18446744073709551617,\n  "f": 23.0,\n  "e": 1e400,\n  "n": -0.10000000000000000555,\n  "i": 5\n}');
  });

  it("formats everything else as JSON.stringify(value, null, 2) does", () => {
    const value = { s: 'quote " and \\ and é🐍 and \n', nested: [1, [], {}, [true, null, { a: "b" }]], empty: {} };
    const text = JSON.stringify(value);
    expect(formatJson(parseExact(text))).toBe(JSON.stringify(value, null, 2));
    expect(formatJson(parseExact("[]"))).toBe("[]");
    expect(formatJson(parseExact('"x"'))).toBe('"x"');
  });
});
