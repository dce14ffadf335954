import { describe, expect, it } from "vitest";
import { afterEdit, exampleForm, exampleOf, limitsOf } from "./example-state.js";
import type { Example } from "./examples.js";

const HELLO: Example = { id: "hello", title: "Hello", group: "Examples", script: "def main():\n    return 1\n", outcome: "OK" };
const SLOW: Example = { id: "slow", title: "Slow", group: "Errors", script: "def main():\n    while True: pass\n", timeoutMs: 2000, outcome: "TIMEOUT" };
const CSV: Example = {
  id: "csv",
  title: "CSV",
  group: "Data in and out",
  script: "def main(n):\n    return n\n",
  args: { n: 1 },
  files: [{ path: "in.csv", content: "a\n1\n", encoding: "utf-8" }],
  outcome: "OK",
};
const EXAMPLES = [HELLO, SLOW, CSV];

describe("exampleForm", () => {
  it("fills the form with the example's script, args as formatted JSON, files and limits, blank for the rest", () => {
    expect(exampleForm(CSV)).toEqual({ script: CSV.script, args: '{\n  "n": 1\n}', files: CSV.files, timeoutMs: "", memoryMb: "" });
    expect(exampleForm(SLOW)).toEqual({ script: SLOW.script, args: "", files: [], timeoutMs: "2000", memoryMb: "" });
  });
});

describe("exampleOf", () => {
  it("is the example the form is, until any field differs", () => {
    expect(exampleOf(exampleForm(CSV), EXAMPLES)).toBe(CSV);
    expect(exampleOf({ ...exampleForm(CSV), script: `${CSV.script}#` }, EXAMPLES)).toBeUndefined();
    expect(exampleOf({ ...exampleForm(CSV), args: "{}" }, EXAMPLES)).toBeUndefined();
    expect(exampleOf({ ...exampleForm(CSV), files: [{ path: "data/in.csv", content: "a\n1\n", encoding: "utf-8" }] }, EXAMPLES)).toBeUndefined();
    expect(exampleOf({ ...exampleForm(CSV), files: [] }, EXAMPLES)).toBeUndefined();
    expect(exampleOf({ ...exampleForm(SLOW), timeoutMs: "3000" }, EXAMPLES)).toBeUndefined();
    expect(exampleOf({ ...exampleForm(HELLO), memoryMb: "64" }, EXAMPLES)).toBeUndefined();
  });
});

describe("limitsOf", () => {
  it("names the limits an example sets", () => {
    expect(limitsOf(SLOW)).toBe("timeout 2000 ms");
    expect(limitsOf(HELLO)).toBe("");
  });
});

describe("afterEdit", () => {
  const slow = exampleForm(SLOW);

  it("clears the limits of the example an edit of its script, args or files leaves", () => {
    for (const edit of [{ script: "def main():\n    return 2\n" }, { args: '{"n": 2}' }, { files: [{ path: "x", content: "", encoding: "utf-8" as const }] }]) {
      expect(afterEdit(slow, { ...slow, ...edit }, EXAMPLES)).toEqual({ form: { ...slow, ...edit, timeoutMs: "" }, clearedLimitsOf: SLOW });
    }
  });

  it("keeps limits the user typed: on the example, or once off it", () => {
    const typed = { ...slow, timeoutMs: "5000" };
    expect(afterEdit(slow, typed, EXAMPLES)).toEqual({ form: typed });
    const ownScript = { ...typed, script: "def main():\n    return 3\n" };
    expect(afterEdit(typed, ownScript, EXAMPLES)).toEqual({ form: ownScript });
    const hello = exampleForm(HELLO);
    const withMemory = { ...hello, memoryMb: "64" };
    expect(afterEdit(hello, withMemory, EXAMPLES)).toEqual({ form: withMemory });
  });

  it("changes nothing else: an example without limits, or an edit that stays on the example", () => {
    const csv = exampleForm(CSV);
    expect(afterEdit(csv, { ...csv, script: "" }, EXAMPLES)).toEqual({ form: { ...csv, script: "" } });
    expect(afterEdit(slow, slow, EXAMPLES)).toEqual({ form: slow });
    // Another example's form reached by an edit (the whole script replaced) is that example, limits and all.
    expect(afterEdit(exampleForm(HELLO), slow, EXAMPLES)).toEqual({ form: slow });
  });
});
