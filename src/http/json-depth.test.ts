import { describe, expect, it } from "vitest";
import { nestsDeeperThan } from "./json-depth.js";

describe("nestsDeeperThan", () => {
  it("counts arrays and objects, not brackets inside strings, escaped quotes included", () => {
    expect(nestsDeeperThan('{"a": [1, {"b": []}]}', 4)).toBe(false);
    expect(nestsDeeperThan('{"a": [1, {"b": []}]}', 3)).toBe(true);
    expect(nestsDeeperThan('{"script": "[[[[{{{{ \\" [[[[", "args": {}}', 2)).toBe(false);
    expect(nestsDeeperThan('"\\\\"[[[', 2)).toBe(true);
  });

  it("reads a body of a million opening brackets without parsing it", () => {
    expect(nestsDeeperThan("[".repeat(1_000_000), 1000)).toBe(true);
    expect(nestsDeeperThan(`${"[".repeat(1000)}${"]".repeat(1000)}`, 1000)).toBe(false);
  });
});
