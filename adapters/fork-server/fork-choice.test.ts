import { describe, expect, it } from "vitest";
import type { ExecutionRequest } from "../../domain/execution-request.js";
import type { SessionRunRequest } from "../python/session-link.js";
import { preloadedChoice } from "./fork-choice.js";

const needsPreloads = preloadedChoice(["numpy", "pandas", "matplotlib.pyplot"]);
const request = (script: string, extra: Partial<ExecutionRequest> = {}): ExecutionRequest => ({ script, timeoutMs: 1000, memoryMb: 128, ...extra });

describe("which interpreter a run is forked from", () => {
  it("the bare one for a script that names no preloaded module", () => {
    expect(needsPreloads(request("def main():\n    return 'hello'\n"))).toBe(false);
    expect(needsPreloads(request("import json, statistics\ndef main():\n    return statistics.mean([1, 2])\n"))).toBe(false);
    // A word that only contains a module's name is not its name.
    expect(needsPreloads(request("def main():\n    numpyish = 1\n    return numpyish\n"))).toBe(false);
  });

  it("the preloaded one for a script that names one, by its top-level name, wherever", () => {
    expect(needsPreloads(request("import numpy as np\ndef main():\n    return 1\n"))).toBe(true);
    expect(needsPreloads(request("from pandas import DataFrame\n"))).toBe(true);
    expect(needsPreloads(request("import matplotlib\n"))).toBe(true);
    expect(needsPreloads(request("def main():\n    return 'pandas'\n"))).toBe(true);
  });

  it("the preloaded one for a script that may import by a computed name", () => {
    for (const word of [
      "__import__('n' + 'umpy')",
      "importlib.import_module(x)",
      "exec(code)",
      "eval(code)",
      "pickle.loads(b)",
      "runpy.run_path(p)",
      "compile(s, 'f', 'exec')",
    ]) {
      expect(needsPreloads(request(`def main():\n    return ${word}\n`)), word).toBe(true);
    }
  });

  it("the preloaded one for a run that brings Python modules among its files", () => {
    const files = [{ path: "helper.py", content: "import numpy\n", encoding: "utf-8" as const }];
    expect(needsPreloads(request("import helper\n", { files }))).toBe(true);
    expect(
      needsPreloads(request("def main():\n    return open('data.csv').read()\n", { files: [{ path: "data.csv", content: "a\n", encoding: "utf-8" }] })),
    ).toBe(false);
  });

  it("the preloaded one for a session, whose cells are not known yet", () => {
    const session = { marker: "m" } as unknown as SessionRunRequest["session"];
    expect(needsPreloads({ ...request(""), session } as SessionRunRequest)).toBe(true);
  });

  it("the bare one always when nothing is preloaded", () => {
    expect(preloadedChoice([])(request("import numpy\n"))).toBe(false);
  });
});
