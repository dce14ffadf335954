import { describe, expect, it } from "vitest";
import { closestField } from "./closest-field.js";

const TOP_LEVEL = ["script", "timeoutMs", "memoryMb", "args", "files"];
const FILE_ITEM = ["path", "content", "encoding"];
const CELL = ["code", "timeoutMs", "files"];

describe("closestField", () => {
  it.each<[string, readonly string[], string]>([
    // an alias
    ["code", TOP_LEVEL, "script"],
    ["source", TOP_LEVEL, "script"],
    ["python", TOP_LEVEL, "script"],
    ["program", TOP_LEVEL, "script"],
    ["source_code", TOP_LEVEL, "script"],
    ["kwargs", TOP_LEVEL, "args"],
    ["arguments", TOP_LEVEL, "args"],
    ["text", FILE_ITEM, "content"],
    ["filename", FILE_ITEM, "path"],
    ["script", CELL, "code"],
    ["cell", CELL, "code"],
    ["source", CELL, "code"],
    // case and separators aside
    ["timeout_ms", TOP_LEVEL, "timeoutMs"],
    ["Script", TOP_LEVEL, "script"],
    ["memory-mb", TOP_LEVEL, "memoryMb"],
    // one begins the other, or both begin with the same 4 characters
    ["timeout", TOP_LEVEL, "timeoutMs"],
    ["memory", TOP_LEVEL, "memoryMb"],
    ["mem", TOP_LEVEL, "memoryMb"],
    ["file", TOP_LEVEL, "files"],
    ["time_limit", TOP_LEVEL, "timeoutMs"],
    ["contents", FILE_ITEM, "content"],
    // a typo: one edit in a short name, two in a longer one, a swap counting as one
    ["arg", TOP_LEVEL, "args"],
    ["scirpt", TOP_LEVEL, "script"],
    ["scrpt", TOP_LEVEL, "script"],
    ["timoutMs", TOP_LEVEL, "timeoutMs"],
    ["encodng", FILE_ITEM, "encoding"],
    ["pth", FILE_ITEM, "path"],
  ])("%s among %j is %s", (name, known, meant) => {
    expect(closestField(name, known)).toBe(meant);
  });

  it.each<[string, readonly string[]]>([
    ["foo", TOP_LEVEL],
    ["x", TOP_LEVEL],
    ["sc", TOP_LEVEL],
    ["env", TOP_LEVEL],
    ["stdin", TOP_LEVEL],
    ["language", TOP_LEVEL],
    ["mode", FILE_ITEM],
    // an alias of a field the object does not have
    ["code", FILE_ITEM],
  ])("%s among %j is none", (name, known) => {
    expect(closestField(name, known)).toBeUndefined();
  });

  it("the fewest edits away wins; on a tie, the field listed first", () => {
    expect(closestField("memoryLimit", ["memo", "memoryLim"])).toBe("memoryLim");
    expect(closestField("cat", ["bat", "hat"])).toBe("bat");
    expect(closestField("cat", ["hat", "bat"])).toBe("hat");
  });
});
