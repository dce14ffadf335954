/**
 * Imports point inward: domain/ is pure TypeScript, adapters/ and openapi/
 * depend on domain/ only, src/ wires everything. `npm test` runs
 *   depcruise domain adapters openapi src --config .dependency-cruiser.cjs
 * and test/architecture.test.ts checks the same rules through the cruise API.
 *
 * Test files (`*.test.ts`) live beside the code; they may import their test runner.
 */
/** @type {import('dependency-cruiser').IConfiguration} */

const TEST_FILE = "\\.test\\.ts$";

module.exports = {
  forbidden: [
    {
      name: "domain-is-pure",
      severity: "error",
      comment:
        "domain/ imports only domain/: no node: builtins, no npm packages (hono, zod, execa, pino, ...), " +
        "no adapters/, openapi/ or src/. Failures are values and the outside world comes in through ports.",
      from: { path: "^domain/", pathNot: TEST_FILE },
      to: { pathNot: "^domain/" },
    },
    {
      name: "domain-tests-stay-in-domain",
      severity: "error",
      comment: "Domain tests use hand-written fakes: they import domain/ and the test runner, nothing else.",
      from: { path: `^domain/.*${TEST_FILE}` },
      to: { pathNot: ["^domain/", "^node_modules/vitest/", "^vitest$"] },
    },
    {
      name: "domain-not-to-outer-layers",
      severity: "error",
      comment: "The domain knows nothing of the adapters, the HTTP contract or the wiring.",
      from: { path: "^domain/" },
      to: { path: "^(adapters|openapi|src)/" },
    },
    {
      name: "domain-no-node-builtins",
      severity: "error",
      comment: "domain/ runs anywhere: no node:* (or bare fs, path, ...) imports.",
      from: { path: "^domain/" },
      to: { dependencyTypes: ["core"] },
    },
    {
      name: "adapters-not-to-src",
      severity: "error",
      comment: "Adapters are wired by src/, they never reach into it.",
      from: { path: "^adapters/" },
      to: { path: "^src/" },
    },
    {
      name: "openapi-not-to-src",
      severity: "error",
      comment: "The HTTP contract (zod schemas, routes, status table) does not depend on the wiring.",
      from: { path: "^openapi/" },
      to: { path: "^src/" },
    },
    {
      name: "adapters-and-openapi-independent",
      severity: "error",
      comment: "Sandbox adapters and the HTTP contract meet only in domain/ and src/.",
      from: { path: "^(adapters|openapi)/" },
      to: { path: "^(adapters|openapi)/", pathNot: "^$1/" },
    },
    {
      name: "playground-is-browser-code",
      severity: "error",
      comment:
        "playground/ is bundled for the browser: of the server it may import types only (the response shapes of openapi/), " +
        "and no node: builtins; it talks to the service over HTTP.",
      from: { path: "^playground/", pathNot: TEST_FILE },
      to: { path: "^(domain|adapters|openapi|src)/", dependencyTypesNot: ["type-only"] },
    },
    {
      name: "playground-no-node-builtins",
      severity: "error",
      comment: "playground/ runs in the browser: no node:* (or bare fs, path, ...) imports.",
      from: { path: "^playground/", pathNot: TEST_FILE },
      to: { dependencyTypes: ["core"] },
    },
    {
      name: "server-not-to-playground",
      severity: "error",
      comment: "The server serves the built bundle (dist/playground); it never imports the page's source.",
      from: { path: "^(domain|adapters|openapi|src)/" },
      to: { path: "^playground/" },
    },
    {
      name: "no-circular",
      severity: "error",
      comment: "Circular imports make the layering meaningless and module initialisation order fragile.",
      from: {},
      to: { circular: true },
    },
    {
      name: "no-orphans",
      severity: "error",
      comment:
        "A module that imports nothing and that nothing imports is dead code. Tests, type declarations and " +
        "dotfiles/configs are entry points of their tools, not orphans.",
      from: { orphan: true, pathNot: [TEST_FILE, "\\.d\\.ts$", "(^|/)\\.[^/]+\\.(js|cjs|mjs|ts|json)$", "(^|/)[^/]+\\.config\\.(js|cjs|mjs|ts)$"] },
      to: {},
    },
    {
      name: "not-to-unresolvable",
      severity: "error",
      comment: "An import that does not resolve would also escape every other rule.",
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: "no-dev-deps-in-production",
      severity: "error",
      comment: "Code that ships (everything but *.test.ts) must not need a devDependency at run time.",
      from: { path: "^(domain|adapters|openapi|src)/", pathNot: TEST_FILE },
      to: { dependencyTypes: ["npm-dev"], dependencyTypesNot: ["type-only"] },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    // Only build output and the virtualenv: excluding node_modules would hide npm imports from the rules.
    exclude: { path: "^(dist|\\.venv)/" },
    // `import type` counts: a type-only import from outside the domain still couples it.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      mainFields: ["module", "main", "types", "typings"],
    },
    skipAnalysisNotInRules: true,
  },
};
