/**
 * Bundles the playground page (playground/) for the browser: CodeMirror and the page's code in
 * one ES module, next to the page, its stylesheet and its icon, in dist/playground/. The server serves
 * these files itself (no CDN). Run by `npm run build` and before the tests (vitest.config.ts).
 *
 *   node scripts/build-playground.ts
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** Where the server looks for it (playgroundBundleDir in src/project-paths.ts). */
export const PLAYGROUND_OUT_DIR = join(root, "dist", "playground");

/** Each file replaced whole (written aside, then renamed), so a server starting meanwhile never reads half a file. */
async function writeAtomically(path: string, contents: Uint8Array | string): Promise<void> {
  const aside = `${path}.${process.pid}.tmp`;
  await writeFile(aside, contents);
  await rename(aside, path);
}

export async function buildPlayground(outDir = PLAYGROUND_OUT_DIR): Promise<void> {
  await mkdir(outDir, { recursive: true });
  const bundle = await build({
    entryPoints: { playground: join(root, "playground", "main.ts") },
    bundle: true,
    format: "esm",
    target: "es2022",
    minify: true,
    legalComments: "eof",
    outdir: outDir,
    write: false,
    logLevel: "warning",
  });
  for (const file of bundle.outputFiles) await writeAtomically(file.path, file.contents);
  for (const name of ["index.html", "playground.css", "favicon.svg"]) {
    await writeAtomically(join(outDir, name), await readFile(join(root, "playground", name)));
  }
}

if (import.meta.main) await buildPlayground();
