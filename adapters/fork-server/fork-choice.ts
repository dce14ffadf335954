import type { ExecutionRequest } from "../../domain/execution-request.js";
import { sessionOf } from "../python/session-link.js";

/** Words of a script that import a module by a name it computes, or may (unpickling imports the classes it finds). */
const IMPORTING_WORDS = ["__import__", "importlib", "exec", "eval", "compile", "pickle", "runpy"];

/**
 * Which of a fork server's two interpreters a run is forked from: the preloaded one, or the bare
 * one, which imported none of the preloaded modules and is a fraction of the cost to fork. A run
 * needs the preloaded one when its script names a preloaded module (`numpy` in `import numpy as
 * np`), imports by a computed name, or brings Python modules among its files; a session always
 * does (its cells are not known yet). A wrong guess costs only speed: a script on the bare one
 * imports what it needs, as a script in a jail of its own does.
 */
export function preloadedChoice(preloadModules: readonly string[]): (request: ExecutionRequest) => boolean {
  const topLevel = [...new Set(preloadModules.map((name) => name.split(".")[0] ?? ""))].filter(Boolean);
  if (topLevel.length === 0) return () => false;
  const naming = new RegExp(`\\b(?:${[...topLevel, ...IMPORTING_WORDS].map(literal).join("|")})\\b`);
  return (request) => sessionOf(request) !== undefined || naming.test(request.script) || (request.files ?? []).some((file) => /\.py[cw]?$/i.test(file.path));
}

function literal(word: string): string {
  return word.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
