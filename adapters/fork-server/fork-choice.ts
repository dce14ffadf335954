import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { ExecutionRequest } from "../../domain/execution-request.js";
import { sessionOf } from "../python/session-link.js";

/** Words of a script that import a module by a name it computes, or may (unpickling imports the classes it finds). */
const IMPORTING_WORDS = ["__import__", "importlib", "exec", "eval", "compile", "pickle", "runpy"];

/**
 * Which of a fork server's two interpreters a run is forked from: the preloaded one, or the bare
 * one, which imported none of the preloaded modules and is a fraction of the cost to fork. A run
 * needs the preloaded one when its script names a preloaded module (`numpy` in `import numpy as
 * np`) or any other module installed beside the standard library (`installed`: `pylab` and
 * `mpl_toolkits` import matplotlib, `contourpy` numpy), imports by a computed name, or brings
 * Python modules among its files; a session always does (its cells are not known yet). A script
 * the words miss imports what it needs on the bare one, as a script in a jail of its own does:
 * slower, and within its own memory limit.
 */
export function preloadedChoice(preloadModules: readonly string[], installed: readonly string[] = []): (request: ExecutionRequest) => boolean {
  const topLevel = [...new Set(preloadModules.map((name) => name.split(".")[0] ?? ""))].filter(Boolean);
  if (topLevel.length === 0) return () => false;
  const naming = new RegExp(`\\b(?:${[...topLevel, ...installed, ...IMPORTING_WORDS].map(literal).join("|")})\\b`);
  return (request) => sessionOf(request) !== undefined || naming.test(request.script) || (request.files ?? []).some((file) => /\.py[cw]?$/i.test(file.path));
}

function literal(word: string): string {
  return word.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The top-level modules installed in a virtualenv beside the standard library: its site-packages' packages and modules. */
export function installedModules(venvDir: string): string[] {
  const names = new Set<string>();
  const lib = join(venvDir, "lib");
  for (const python of existsSync(lib) ? readdirSync(lib) : []) {
    const sitePackages = join(lib, python, "site-packages");
    if (!existsSync(sitePackages)) continue;
    for (const entry of readdirSync(sitePackages)) {
      // numpy, pylab.py, a compiled module; not numpy.libs, *.dist-info, __pycache__ or _distutils_hack.
      const name = /^([A-Za-z][A-Za-z0-9_]*)(?:\.py|\..*\.so|\.so)?$/.exec(entry)?.[1];
      if (name !== undefined) names.add(name);
    }
  }
  return [...names].sort();
}
