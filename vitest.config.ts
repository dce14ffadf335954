import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["{domain,adapters,openapi,src,test,playground}/**/*.test.ts"],
    // The server serves the playground bundle: built from the current source before any test.
    globalSetup: ["test/support/playground-bundle.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real interpreters; two cores are shared by everything.
    maxWorkers: 2,
  },
});
