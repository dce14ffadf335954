import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { VARIABLE_NAMES } from "./config.js";
import { CONFIG_DOC, configTable, withConfigTable } from "./config-table.js";
import { projectRoot } from "./project-paths.js";

describe("the configuration table", () => {
  it(`in ${CONFIG_DOC} is the one generated from src/config.ts (run \`npm run docs:config\` after changing a variable)`, async () => {
    const doc = await readFile(join(projectRoot(), CONFIG_DOC), "utf8");
    expect(withConfigTable(doc)).toBe(doc);
  });

  it("has one row per variable, each with a default and a meaning", () => {
    const rows = configTable().split("\n").slice(2);
    expect(rows.map((line) => /^\| `([A-Z0-9_]+)` \|/.exec(line)?.[1])).toEqual(VARIABLE_NAMES);
    for (const line of rows) expect(line.split(" | ").every((cell) => cell.trim() !== "")).toBe(true);
  });
});
