import { describe, expect, it } from "vitest";
import { REQUEST_EXAMPLES } from "../../openapi/request-examples.js";
import { browserTestsRun, elsewhere, openPage as openIsolatedPage, servedToBrowser, warnIfSkipped } from "../support/browser.js";
import { executeOperation, executeOperationBlock, executeShowing, tryItOut } from "../support/swagger-ui.js";

/**
 * The Swagger UI in a real browser (test/support/browser.ts), against the real app over the
 * real subprocess sandbox, on a loopback port.
 */
warnIfSkipped("Swagger UI");

const SCRIPT = 'def main():\n    print("hi from swagger")\n    return {"sum": 40 + 2}';

describe.skipIf(!browserTestsRun)("Swagger UI in a real browser", () => {
  const suite = servedToBrowser();

  const openPage = () => openIsolatedPage(suite.browser, suite.origin);

  it('runs a script through "Try it out" on POST /execute and shows the live 200 response', async () => {
    const { page, requests, pageErrors } = await openPage();
    await page.goto(`${suite.origin}/docs`);

    const operation = await executeOperation(page);
    // The service turns tryItOutEnabled on, so the form may open editable ("Cancel" shown):
    // then leave it and come back through "Try it out", as a person would.
    const tryOut = operation.locator("button.try-out__btn");
    if ((await tryOut.textContent())?.trim() === "Cancel") await tryOut.click();
    await operation.getByRole("button", { name: "Try it out", exact: true }).click();

    const { status, shown } = await executeShowing(operation, { script: SCRIPT }, 30_000);
    expect(status, shown).toBe("200");
    expect(shown).toContain("42");
    expect(shown).toContain("hi from swagger");
    const parsed = JSON.parse(shown) as { result: unknown; stdout: string };
    expect(parsed.result).toEqual({ sum: 42 });
    expect(parsed.stdout).toBe("hi from swagger\n");

    // The page and its API call went to the service and nowhere else.
    expect(requests.some((url) => url.endsWith("/execute"))).toBe(true);
    expect(elsewhere(requests, suite.origin)).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  it("sends each documented request example, picked from the example list", async () => {
    const { page, pageErrors } = await openPage();
    await page.goto(`${suite.origin}/docs`);
    const operation = await executeOperation(page);
    await tryItOut(operation);

    const expected: Record<keyof typeof REQUEST_EXAMPLES, [string, RegExp]> = {
      hello: ["200", /"sum": 3/],
      args: ["200", /"Hello, Ada!",\s*"Hello, Ada!"/],
      csv: ["200", /"path": "totals.csv"/],
      binary: ["200", /"content": "\/\/79AgEA"/],
      figure: ["200", /"mediaType": "image\/png"/],
      unsafePath: ["400", /"code": "INVALID_REQUEST"/],
      invalidArgs: ["400", /"code": "INVALID_ARGS"/],
    };
    const picker = operation.locator(".opblock-section-request-body select.examples-select-element");
    const live = operation.locator(".live-responses-table");
    for (const [name, [status, shows]] of Object.entries(expected)) {
      await picker.selectOption(name);
      // The form now holds that example's body.
      const script = REQUEST_EXAMPLES[name as keyof typeof REQUEST_EXAMPLES].value.script;
      await expect.poll(async () => operation.locator("textarea.body-param__text").inputValue()).toContain(JSON.stringify(script).slice(1, 30));
      await operation.getByRole("button", { name: "Execute", exact: true }).click();
      const body = live.locator(".response-col_description pre").first();
      await expect.poll(async () => (await body.textContent()) ?? "", { timeout: 60_000 }).toMatch(shows);
      expect((await live.locator(".response .response-col_status").first().textContent())?.trim(), name).toBe(status);
    }
    expect(pageErrors).toEqual([]);
  });

  it("loads the page with only the service's own assets", async () => {
    const { page, requests } = await openPage();
    const failed: string[] = [];
    page.on("requestfailed", (request) => failed.push(request.url()));
    page.on("response", (response) => {
      if (response.status() >= 400 && !response.url().endsWith("/favicon.ico")) failed.push(`${response.status()} ${response.url()}`);
    });
    await page.goto(`${suite.origin}/docs`);
    await executeOperationBlock(page).waitFor();
    await page.waitForLoadState("networkidle");

    expect(failed).toEqual([]);
    const paths = requests.map((url) => new URL(url).pathname);
    expect(paths).toEqual(
      expect.arrayContaining(["/docs", "/openapi.json", "/docs/assets/swagger-ui-dist/swagger-ui-bundle.js", "/docs/assets/swagger-ui-dist/swagger-ui.css"]),
    );
    expect(elsewhere(requests, suite.origin)).toEqual([]);
  });
});
