import { existsSync, realpathSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { harnessPackageSource, harnessSnapshot } from "../adapters/python/harness-package.js";
import type { HarnessRuntime } from "../adapters/python/harness-runtime.js";

/** The repository (or image) root: the nearest directory above this file holding package.json. */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error("cannot find the project root (no package.json above the server's files)");
    dir = parent;
  }
  return dir;
}

/** Where `npm run build` puts the playground page and its bundle (scripts/build-playground.ts). */
export const playgroundBundleDir = (root: string): string => join(root, "dist", "playground");

/**
 * The virtualenv made by scripts/setup.sh (unless PYTHON_BIN points elsewhere) and the harness.
 * The venv directory is resolved through symlinks: the set-up may keep it outside a project
 * directory that the sandboxes' unprivileged users cannot enter.
 */
export function harnessRuntime(root: string, pythonBin: string | undefined): HarnessRuntime {
  const python = pythonBin ?? join(root, ".venv", "bin", "python");
  if (!existsSync(python)) {
    throw new Error(`Python interpreter not found at ${python}: run \`npm run setup\` or set PYTHON_BIN`);
  }
  const venvDir = realpathSync(dirname(dirname(python)));
  return {
    pythonBin: join(venvDir, "bin", basename(python)),
    venvDir,
    harnessDir: harnessSnapshot(harnessPackageSource(root)),
  };
}
