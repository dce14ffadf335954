import { defineConfig } from "vitest/config";
import { scaled } from "./test/support/slowdown.js";

export default defineConfig({
  test: {
    include: ["{domain,adapters,openapi,src,test,playground}/**/*.test.ts"],
    // The server serves the playground bundle: built from the current source before any test.
    globalSetup: ["test/support/playground-bundle.ts"],
    // A test or hook that needs longer says so (scaled too): a stuck one fails alone, by name.
    testTimeout: scaled(60_000),
    hookTimeout: scaled(60_000),
    // Integration tests start real interpreters; two cores are shared by everything.
    maxWorkers: 2,
  },
});
