import { existsSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { serve, type ServerType } from "@hono/node-server";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SandboxPort } from "../../domain/sandbox.port.js";
import { REQUEST_EXAMPLES } from "../../openapi/request-examples.js";
import { appOver, realSubprocessSandbox, testConfig } from "../support/real-app.js";

/**
 * The Swagger UI in a real browser: Debian's chromium driven by playwright-core (no browser
 * download), against the real app over the real subprocess sandbox, on a loopback port.
 * Without chromium the test is skipped loudly, unless REQUIRE_BROWSER is set (CI sets it):
 * then a missing browser fails the run.
 */
const CHROMIUM = process.env.CHROMIUM_BIN ?? "/usr/bin/chromium";
const haveChromium = existsSync(CHROMIUM);
const requireBrowser = Boolean(process.env.REQUIRE_BROWSER);
if (!haveChromium && !requireBrowser) {
  console.warn(`\n*** SKIPPING the Swagger UI browser test: ${CHROMIUM} not found (run scripts/setup-test.sh as root to install Debian's chromium) ***\n`);
}

/**
 * The page is opened under a name that is not localhost, mapped to 127.0.0.1 inside the
 * browser only: Swagger UI treats localhost specially (e.g. it skips its online validator
 * badge there), so this is how the page behaves on a real server name.
 */
const HOST_NAME = "pyexec.test";

const SCRIPT = 'def main():\n    print("hi from swagger")\n    return {"sum": 40 + 2}';

describe.skipIf(!haveChromium && !requireBrowser)("Swagger UI in a real browser", () => {
  let sandbox: SandboxPort;
  let server: ServerType;
  let browser: Browser;
  let baseUrl: string;

  beforeAll(async () => {
    if (!haveChromium) throw new Error(`REQUIRE_BROWSER is set but ${CHROMIUM} does not exist: run scripts/setup-test.sh`);
    const config = testConfig();
    sandbox = realSubprocessSandbox(config);
    const app = await appOver(sandbox, config);
    server = await new Promise<ServerType>((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
    });
    const { port } = server.address() as AddressInfo;
    baseUrl = `http://${HOST_NAME}:${port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        `--host-resolver-rules=MAP ${HOST_NAME} 127.0.0.1`,
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await sandbox?.close();
  });

  /** Opens a page that records every request it makes and lets none leave this machine. */
  async function openPage(): Promise<{ page: Page; requests: string[]; pageErrors: string[] }> {
    const context = await browser.newContext();
    const requests: string[] = [];
    const pageErrors: string[] = [];
    const page = await context.newPage();
    page.on("request", (request) => requests.push(request.url()));
    page.on("pageerror", (error) => pageErrors.push(error.message));
    // Anything not for the service itself is refused, so a CDN dependency shows up as a
    // broken page here even on a machine that has internet access.
    await context.route("**/*", (route) => {
      const url = new URL(route.request().url());
      return url.origin === new URL(baseUrl).origin ? route.continue() : route.abort("blockedbyclient");
    });
    return { page, requests, pageErrors };
  }

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
    const elsewhere = requests.filter((url) => !url.startsWith(`${baseUrl}/`) && !/^(data|blob):/.test(url));
    expect(elsewhere).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  it("sends each documented request example, picked from the example list", async () => {
    const { page, pageErrors } = await openPage();
    await page.goto(`${baseUrl}/docs`);
    const operation = page.locator(".opblock-post").filter({ hasText: "/execute" });
    await operation.locator(".opblock-summary").click();
    const tryOut = operation.locator("button.try-out__btn");
    if ((await tryOut.textContent())?.trim() !== "Cancel") await tryOut.click();

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
    await page.goto(`${baseUrl}/docs`);
    await page.locator(".opblock-post").filter({ hasText: "/execute" }).waitFor();
    await page.waitForLoadState("networkidle");

    expect(failed).toEqual([]);
    const paths = requests.map((url) => new URL(url).pathname);
    expect(paths).toEqual(expect.arrayContaining(["/docs", "/openapi.json", "/docs/assets/swagger-ui-dist/swagger-ui-bundle.js", "/docs/assets/swagger-ui-dist/swagger-ui.css"]));
    expect(requests.filter((url) => !url.startsWith(`${baseUrl}/`) && !/^(data|blob):/.test(url))).toEqual([]);
  });
});
