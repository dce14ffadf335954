import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { type Browser, type BrowserContextOptions, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll } from "vitest";
import { type Served, serveApp } from "./real-app.js";

/**
 * The real browser of the browser tests: Debian's chromium driven by playwright-core (no
 * browser download). Without chromium the tests are skipped loudly, unless REQUIRE_BROWSER is
 * set (CI sets it): then a missing browser fails the run.
 */
const CHROMIUM = process.env.CHROMIUM_BIN ?? "/usr/bin/chromium";
const haveChromium = existsSync(CHROMIUM);
const requireBrowser = Boolean(process.env.REQUIRE_BROWSER);
/** Whether a browser suite runs here (else it is skipped, with skipWarning's message). */
export const browserTestsRun = haveChromium || requireBrowser;

export function warnIfSkipped(what: string): void {
  if (!browserTestsRun) {
    console.warn(`\n*** SKIPPING the ${what} browser test: ${CHROMIUM} not found (run scripts/setup-test.sh as root to install Debian's chromium) ***\n`);
  }
}

/**
 * Pages are opened under a name that is not localhost, mapped to 127.0.0.1 inside the browser
 * only: pages may treat localhost specially (Swagger UI skips its online validator badge
 * there), so this is how they behave on a real server name.
 */
const HOST_NAME = "pyexec.test";

export const pageUrl = (port: number, path = "/"): string => `http://${HOST_NAME}:${port}${path}`;

export async function launchChromium(): Promise<Browser> {
  if (!haveChromium) throw new Error(`REQUIRE_BROWSER is set but ${CHROMIUM} does not exist: run scripts/setup-test.sh`);
  return chromium.launch({
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
}

export interface OpenedPage {
  readonly page: Page;
  /** Every URL the page requested. */
  readonly requests: string[];
  /** Uncaught errors of the page's scripts. */
  readonly pageErrors: string[];
}

/**
 * Opens a page in a fresh context that records every request it makes and lets none leave
 * for another origin than `origin`: a CDN dependency shows up as a broken page here even on a
 * machine with internet access.
 */
export async function openPage(browser: Browser, origin: string, options: BrowserContextOptions = {}): Promise<OpenedPage> {
  const context = await browser.newContext(options);
  const requests: string[] = [];
  const pageErrors: string[] = [];
  const page = await context.newPage();
  page.on("request", (request) => requests.push(request.url()));
  page.on("pageerror", (error) => pageErrors.push(error.message));
  await context.route("**/*", (route) => {
    const url = new URL(route.request().url());
    return url.origin === new URL(origin).origin ? route.continue() : route.abort("blockedbyclient");
  });
  return { page, requests, pageErrors };
}

/** Requests that went anywhere but the service (data: and blob: URLs are the page's own). */
export const elsewhere = (requests: readonly string[], origin: string): string[] =>
  requests.filter((url) => !url.startsWith(`${origin}/`) && !/^(data|blob):/.test(url));

/** What a browser suite's tests use: the served app, the browser, and the pages' origin. */
export interface BrowserSuite {
  readonly served: Served;
  readonly browser: Browser;
  readonly origin: string;
}

/**
 * The real app served (serveApp) and a Chromium, started before the tests of the describe block
 * that calls this and closed after them; `screenshots`, a directory the tests save to, is made first.
 */
export function servedToBrowser(options: { readonly screenshots?: string } = {}): BrowserSuite {
  const suite: { served?: Served; browser?: Browser; origin?: string } = {};
  beforeAll(async () => {
    if (options.screenshots !== undefined) await mkdir(options.screenshots, { recursive: true });
    suite.served = await serveApp();
    suite.origin = pageUrl(suite.served.listening.port, "");
    suite.browser = await launchChromium();
  });
  afterAll(async () => {
    await suite.browser?.close();
    await suite.served?.close();
  });
  return suite as BrowserSuite;
}
