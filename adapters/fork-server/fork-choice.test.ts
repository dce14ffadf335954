import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ExecutionRequest } from "../../domain/execution-request.js";
import type { SessionRunRequest } from "../python/session-link.js";
import { installedModules, preloadedChoice } from "./fork-choice.js";

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

describe("the modules installed beside the standard library", () => {
  it("are a virtualenv's site-packages packages and modules, not its metadata, libraries or private names", () => {
    const venv = mkdtempSync(join(tmpdir(), "venv-"));
    try {
      const sitePackages = join(venv, "lib", "python3.11", "site-packages");
      for (const dir of ["numpy", "numpy.libs", "numpy-2.4.6.dist-info", "mpl_toolkits", "__pycache__", "_distutils_hack", "PIL"]) {
        mkdirSync(join(sitePackages, dir), { recursive: true });
      }
      for (const file of ["pylab.py", "distutils-precedence.pth", "kiwisolver.cpython-311-x86_64-linux-gnu.so"]) writeFileSync(join(sitePackages, file), "");
      expect(installedModules(venv)).toEqual(["PIL", "kiwisolver", "mpl_toolkits", "numpy", "pylab"]);
    } finally {
      rmSync(venv, { recursive: true, force: true });
    }
  });

  it("send a script that names one to the preloaded interpreter: pylab imports matplotlib", () => {
    const choice = preloadedChoice(["numpy", "pandas", "matplotlib"], ["pylab", "mpl_toolkits", "contourpy"]);
    expect(choice(request("import pylab\n"))).toBe(true);
    expect(choice(request("from mpl_toolkits.mplot3d import Axes3D\n"))).toBe(true);
    expect(choice(request("import json\n"))).toBe(false);
  });
});
