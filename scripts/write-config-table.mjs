// `npm run docs:config`: writes the configuration table generated from src/config.ts into the
// documentation (the build's copy of src/config-table.ts does the work).
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CONFIG_DOC, withConfigTable } from "../dist/src/config-table.js";

const file = join(import.meta.dirname, "..", CONFIG_DOC);
await writeFile(file, withConfigTable(await readFile(file, "utf8")));
