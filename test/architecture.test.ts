import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { cruise, type ICruiseOptions, type ICruiseResult, type IViolation } from "dependency-cruiser";
import extractDepcruiseOptions from "dependency-cruiser/config-utl/extract-depcruise-options";
import extractTSConfig from "dependency-cruiser/config-utl/extract-ts-config";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { projectRoot } from "../src/project-paths.js";

/**
 * The dependency rules of .dependency-cruiser.cjs (imports point inward, the domain is pure),
 * checked through dependency-cruiser's API so the test suite enforces them as `npm test`'s
 * depcruise step does.
 */
const root = projectRoot();
const LAYERS = ["domain", "adapters", "openapi", "src", "playground"];

async function cruiseIn(baseDir: string, paths: string[], extra: Partial<ICruiseOptions> = {}): Promise<ICruiseResult> {
  const options: ICruiseOptions = { ...(await extractDepcruiseOptions(join(root, ".dependency-cruiser.cjs"))), baseDir, ...extra };
  const tsConfig = extractTSConfig(join(root, "tsconfig.json"));
  const { output } = await cruise(paths, options, undefined, { tsConfig });
  if (typeof output === "string") throw new Error("expected a JSON cruise result");
  return output;
}

const describeViolation = (v: IViolation) => `${v.rule.name}: ${v.from} → ${v.to}${v.cycle ? ` (cycle ${v.cycle.map((c) => c.name).join(" → ")})` : ""}`;

describe("architecture", () => {
  it("the project's code breaks none of the dependency rules", async () => {
    const result = await cruiseIn(root, LAYERS);
    expect(result.summary.violations.map(describeViolation)).toEqual([]);
    expect(result.summary.error).toBe(0);
    // It really looked: every layer's modules were cruised.
    const sources = result.modules.map((m) => m.source);
    for (const layer of LAYERS)
      expect(
        sources.some((s) => s.startsWith(`${layer}/`)),
        layer,
      ).toBe(true);
  });

  /** A throwaway tree with one offending import per rule, to show each rule fires. */
  describe("the rules fire on offending imports", () => {
    let fixture: string;
    let violations: string[];

    const files: Record<string, string> = {
      "package.json": JSON.stringify({ name: "fixture", type: "module", dependencies: { hono: "*", zod: "*" }, devDependencies: { vitest: "*" } }),
      "domain/ok.ts": "export const ok = 1;\n",
      "domain/uses-node.ts": 'import { readFileSync } from "node:fs";\nexport const a = readFileSync;\n',
      "domain/uses-hono.ts": 'import type { Hono } from "hono";\nexport type A = Hono;\n',
      "domain/uses-src.ts": 'import { wired } from "../src/wiring.js";\nexport const a = wired;\n',
      "domain/uses-adapter.ts": 'import { adapter } from "../adapters/thing/adapter.js";\nexport const a = adapter;\n',
      "domain/cycle-a.ts": 'import { b } from "./cycle-b.js";\nexport const a = () => b;\n',
      "domain/cycle-b.ts": 'import { a } from "./cycle-a.js";\nexport const b = () => a;\n',
      "domain/pure.test.ts": 'import { it } from "vitest";\nimport { ok } from "./ok.js";\nit("x", () => void ok);\n',
      "adapters/thing/adapter.ts": 'import { ok } from "../../domain/ok.js";\nexport const adapter = ok;\n',
      "adapters/thing/uses-src.ts": 'import { wired } from "../../src/wiring.js";\nexport const a = wired;\n',
      "adapters/thing/uses-openapi.ts": 'import { route } from "../../openapi/route.js";\nexport const a = route;\n',
      "openapi/route.ts": 'import { ok } from "../domain/ok.js";\nexport const route = ok;\n',
      "openapi/uses-src.ts": 'import { wired } from "../src/wiring.js";\nexport const a = wired;\n',
      "src/wiring.ts":
        'import { adapter } from "../adapters/thing/adapter.js";\nimport { route } from "../openapi/route.js";\nexport const wired = [adapter, route];\n',
      "src/uses-dev-dep.ts": 'import { it } from "vitest";\nexport const a = it;\n',
      "src/broken.ts": 'import { nothing } from "./does-not-exist.js";\nexport const a = nothing;\n',
      "src/lonely.ts": "export const lonely = 1;\n",
      "src/lonely.test.ts": "export const standsAlone = true;\n",
      "src/uses-playground.ts": 'import { page } from "../playground/page.js";\nexport const a = page;\n',
      "playground/page.ts": 'import type { Route } from "../openapi/types.js";\nexport const page: Route | undefined = undefined;\n',
      "openapi/types.ts": "export type Route = { path: string };\n",
      "playground/uses-openapi-value.ts": 'import { route } from "../openapi/route.js";\nexport const a = route;\n',
      "playground/uses-node.ts": 'import { readFileSync } from "node:fs";\nexport const a = readFileSync;\n',
    };

    beforeAll(async () => {
      fixture = await mkdtemp(join(tmpdir(), "depcruise-fixture-"));
      for (const [path, content] of Object.entries(files)) {
        await mkdir(dirname(join(fixture, path)), { recursive: true });
        await writeFile(join(fixture, path), content);
      }
      // The fixture's npm imports resolve to the project's own packages, seen as the fixture's node_modules/.
      await symlink(join(root, "node_modules"), join(fixture, "node_modules"));
      const result = await cruiseIn(fixture, LAYERS, { preserveSymlinks: true });
      violations = result.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`);
    });

    afterAll(async () => {
      if (fixture) await rm(fixture, { recursive: true, force: true });
    });

    it.each([
      ["domain-is-pure", "domain/uses-node.ts", "fs"],
      ["domain-no-node-builtins", "domain/uses-node.ts", "fs"],
      ["domain-is-pure", "domain/uses-hono.ts", "node_modules/hono/"],
      ["domain-is-pure", "domain/uses-src.ts", "src/wiring.ts"],
      ["domain-not-to-outer-layers", "domain/uses-src.ts", "src/wiring.ts"],
      ["domain-not-to-outer-layers", "domain/uses-adapter.ts", "adapters/thing/adapter.ts"],
      ["no-circular", "domain/cycle-a.ts", "domain/cycle-b.ts"],
      ["adapters-not-to-src", "adapters/thing/uses-src.ts", "src/wiring.ts"],
      ["adapters-and-openapi-independent", "adapters/thing/uses-openapi.ts", "openapi/route.ts"],
      ["openapi-not-to-src", "openapi/uses-src.ts", "src/wiring.ts"],
      ["no-dev-deps-in-production", "src/uses-dev-dep.ts", "node_modules/vitest/"],
      ["not-to-unresolvable", "src/broken.ts", "./does-not-exist.js"],
      ["no-orphans", "src/lonely.ts", "src/lonely.ts"],
      ["playground-is-browser-code", "playground/uses-openapi-value.ts", "openapi/route.ts"],
      ["playground-no-node-builtins", "playground/uses-node.ts", "fs"],
      ["server-not-to-playground", "src/uses-playground.ts", "playground/page.ts"],
    ])("%s: %s → %s", (rule, from, to) => {
      expect(
        violations.some((v) => v.startsWith(`${rule}: ${from} → ${to}`)),
        violations.join("\n"),
      ).toBe(true);
    });

    it("the allowed imports are not flagged", () => {
      const offenders = new Set(violations.map((v) => v.split(": ")[1]!.split(" → ")[0]));
      for (const clean of [
        "domain/ok.ts",
        "domain/pure.test.ts",
        "adapters/thing/adapter.ts",
        "openapi/route.ts",
        "src/wiring.ts",
        "src/lonely.test.ts",
        "playground/page.ts",
      ]) {
        expect(offenders.has(clean), clean).toBe(false);
      }
    });
  });
});
