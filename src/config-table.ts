import { VARIABLES, type Variable } from "./config.js";

/** The file that documents the configuration; its table is generated, never edited by hand. */
export const CONFIG_DOC = "docs/configuration.md";

const START = "<!-- configuration table: generated from src/config.ts by `npm run docs:config`, do not edit -->";
const END = "<!-- end of the configuration table -->";

function row(variable: Variable<unknown>): string {
  const fallback = "sameAs" in variable.default ? `\`${variable.default.sameAs}\`` : variable.default.shown;
  return `| \`${variable.name}\` | ${fallback} | ${variable.accepts} | ${variable.doc} |`;
}

/** The configuration table in Markdown, one row per variable in the order they are checked. */
export function configTable(): string {
  const rows = Object.values(VARIABLES as Record<string, Variable<unknown>>).map(row);
  return ["| variable | default | accepts | meaning |", "|---|---|---|---|", ...rows].join("\n");
}

/** `markdown` with the table between its markers replaced by the generated one. */
export function withConfigTable(markdown: string): string {
  const start = markdown.indexOf(START);
  const end = markdown.indexOf(END);
  if (start < 0 || end < start) throw new Error(`${CONFIG_DOC} has no configuration table markers (${START} ... ${END})`);
  return `${markdown.slice(0, start + START.length)}\n${configTable()}\n${markdown.slice(end)}`;
}
