import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SandboxPort } from "../../domain/sandbox.port.js";
import { browserTestsRun, elsewhere, launchChromium, openPage as openIsolatedPage, pageUrl, warnIfSkipped } from "../support/browser.js";
import { listen, type Listening } from "../support/listening.js";
import { appOver, realSubprocessSandbox, testConfig } from "../support/real-app.js";

/**
 * The Swagger UI in a real browser (test/support/browser.ts), against the real app over the
 * real subprocess sandbox, on a loopback port.
 */
warnIfSkipped("Swagger UI");

const SCRIPT = 'def main():\n    print("hi from swagger")\n    return {"sum": 40 + 2}';

describe.skipIf(!browserTestsRun)("Swagger UI in a real browser", () => {
  let sandbox: SandboxPort;
  let server: Listening;
  let browser: Browser;
  let baseUrl: string;

  beforeAll(async () => {
    const config = testConfig();
    sandbox = realSubprocessSandbox(config);
    server = await listen(await appOver(sandbox, config));
    baseUrl = pageUrl(server.port, "");
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await sandbox?.close();
  });

  const openPage = () => openIsolatedPage(browser, baseUrl);

  it("runs a script through \"Try it out\" on POST /execute and shows the live 200 response", async () => {
    const { page, requests, pageErrors } = await openPage();
    await page.goto(`${baseUrl}/docs`);

    const operation = page.locator(".opblock-post").filter({ hasText: "/execute" });
    await operation.locator(".opblock-summary").click();
    // The service turns tryItOutEnabled on, so the form may open editable ("Cancel" shown):
    // then leave it and come back through "Try it out", as a person would.
    const tryOut = operation.locator("button.try-out__btn");
    if ((await tryOut.textContent())?.trim() === "Cancel") await tryOut.click();
    await operation.getByRole("button", { name: "Try it out", exact: true }).click();

    const body = operation.locator("textarea.body-param__text");
    await body.fill(JSON.stringify({ script: SCRIPT }));
    await operation.getByRole("button", { name: "Execute", exact: true }).click();

    const live = operation.locator(".live-responses-table");
    const status = live.locator(".response .response-col_status").first();
    await expect.poll(async () => (await status.textContent())?.trim(), { timeout: 30_000 }).toMatch(/^\d{3}$/);

    const shown = (await live.locator(".response-col_description pre").first().textContent()) ?? "";
    expect((await status.textContent())?.trim(), shown).toBe("200");
    expect(shown).toContain("42");
    expect(shown).toContain("hi from swagger");
    const parsed = JSON.parse(shown) as { result: unknown; stdout: string };
    expect(parsed.result).toEqual({ sum: 42 });
    expect(parsed.stdout).toBe("hi from swagger\n");

    // The page and its API call went to the service and nowhere else.
    expect(requests.some((url) => url.endsWith("/execute"))).toBe(true);
    expect(elsewhere(requests, baseUrl)).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  it("loads the page with only the service's own assets", async () => {
    const { page, requests } = await openPage();
    const failed: string[] = [];
    page.on("requestfailed", (request) => failed.push(request.url()));
    page.on("response", (response) => {
      if (response.status() >= 400 && !response.url().endsWith("/favicon.ico")) failed.push(`${response.status()} ${response.url()}`);
    });
    await page.goto(`${baseUrl}/docs`);
    await page.locator(".opblock-post").filter({ hasText: "/execute" }).waitFor();
    await page.waitForLoadState("networkidle");

    expect(failed).toEqual([]);
    const paths = requests.map((url) => new URL(url).pathname);
    expect(paths).toEqual(expect.arrayContaining(["/docs", "/openapi.json", "/docs/assets/swagger-ui-dist/swagger-ui-bundle.js", "/docs/assets/swagger-ui-dist/swagger-ui.css"]));
    expect(elsewhere(requests, baseUrl)).toEqual([]);
  });
});
