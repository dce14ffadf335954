import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["{domain,adapters,openapi,src,test}/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real interpreters; two cores are shared by everything.
    maxWorkers: 2,
  },
});
