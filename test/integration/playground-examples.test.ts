/**
 * Every example of the playground's menu, sent as the page sends it (script, args, files,
 * limit) to the real app over the real subprocess sandbox: each ends as it says it does.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXAMPLES } from "../../playground/examples.js";
import { execute } from "../support/real-app.js";
import { type App, closeSandboxes, realApp } from "./helpers.js";

describe("the playground's examples", () => {
  let app: App;
  beforeAll(async () => {
    app = await realApp();
  });
  afterAll(closeSandboxes);

  it("have unique ids", () => {
    expect(new Set(EXAMPLES.map((example) => example.id)).size).toBe(EXAMPLES.length);
  });

  it.each(EXAMPLES.map((example) => [example.id, example] as const))("%s ends as it says", async (_id, example) => {
    // Fields left undefined are left out of the JSON, as the page leaves them out.
    const res = await execute(app, example.script, { args: example.args, files: example.files, timeoutMs: example.timeoutMs });
    expect(res.body.code ?? "OK", res.text.slice(0, 2000)).toBe(example.outcome);
    if (example.outcome === "OK") expect(res.status).toBe(200);
  });
});
