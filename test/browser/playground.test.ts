/**
 * The playground page (GET /) in a real browser (test/support/browser.ts), against the real app
 * over the real subprocess sandbox, on a loopback port. Each state a person would look at is
 * saved as a screenshot in test-results/playground/.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { projectRoot } from "../../src/project-paths.js";
import { browserTestsRun, elsewhere, launchChromium, openPage, pageUrl, warnIfSkipped } from "../support/browser.js";
import { type Served, serveApp } from "../support/real-app.js";

warnIfSkipped("playground");

const SCREENSHOTS = join(projectRoot(), "test-results", "playground");
const KEY = "playground-test-key-0123";

/** A served app over a sandbox of its own (serveApp), and the origin the browser reaches it at. */
async function servePage(env: Record<string, string> = {}): Promise<Served & { origin: string }> {
  const served = await serveApp(env);
  return { ...served, origin: pageUrl(served.listening.port, "") };
}

/** Replaces the script in the editor with `script`, typed in as a person pasting it would. */
async function typeScript(page: Page, script: string): Promise<void> {
  await page.locator("#editor .cm-content").click();
  await page.keyboard.press("ControlOrMeta+A");
  await page.keyboard.press("Delete");
  await page.keyboard.insertText(script);
}

/** Waits for the run to end and returns the status line, so a failed run shows why at once. */
async function runEnded(page: Page, timeout = 30_000): Promise<string> {
  const status = page.locator("#status.ok, #status.failed");
  await status.waitFor({ timeout });
  return status.innerText();
}

/** Runs the script in the page and expects success, showing the error when it is not. */
async function expectRunOk(page: Page, timeout?: number): Promise<void> {
  const status = await runEnded(page, timeout);
  const error = (await page.locator("#error").count()) > 0 ? await page.locator("#error").innerText() : "";
  expect(status, error).toMatch(/^OK · /);
}

const text = (page: Page, selector: string) => page.locator(selector).evaluate((node) => node.textContent ?? "");

const shot = (page: Page, name: string) => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });

describe.skipIf(!browserTestsRun)("the playground in a real browser", () => {
  let browser: Browser;
  let open: Awaited<ReturnType<typeof servePage>>;

  beforeAll(async () => {
    await mkdir(SCREENSHOTS, { recursive: true });
    open = await servePage();
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await open?.listening.close();
    await open?.sandbox.close();
  });

  const newPage = async (options = {}) => {
    const opened = await openPage(browser, open.origin, options);
    await opened.page.goto(`${open.origin}/`);
    await opened.page.locator("#editor .cm-content").waitFor();
    return opened;
  };

  it("a typed script runs with Ctrl+Enter: the result as formatted JSON, exactly as returned, with stdout and stderr", async () => {
    const { page, requests, pageErrors } = await newPage();
    // Python highlighting is on: the first example's keywords are styled spans.
    expect(await page.locator("#editor .cm-content span").count()).toBeGreaterThan(0);

    const script = [
      "import sys",
      "",
      "def main():",
      '    print("hello from the playground")',
      '    print("a warning", file=sys.stderr)',
      '    return {"sum": 40 + 2, "big": 2**64 + 1, "ratio": 1.0, "items": ["a", None]}',
      "",
    ].join("\n");
    await typeScript(page, script);
    expect(await page.locator("#editor .cm-content").innerText()).toContain('print("hello from the playground")');
    await page.keyboard.press("ControlOrMeta+Enter");

    await expectRunOk(page);
    expect(await page.locator("#status").innerText()).toMatch(/^OK · HTTP 200 · ran \d+ ms · round trip \d+ ms$/);
    // Formatted, and exact: 2**64 + 1 is not rounded to a double, 1.0 stays a float.
    expect(await page.locator("#result pre").innerText()).toBe(
      '{\n  "sum": 42,\n  "big": 18446744073709551617,\n  "ratio": 1.0,\n  "items": [\n    "a",\n    null\n  ]\n}',
    );
    expect(await text(page, "#stdout pre")).toBe("hello from the playground\n");
    expect(await text(page, "#stderr pre")).toBe("a warning\n");
    // Ctrl+Enter ran the script; it did not add a line to it.
    expect(await page.locator("#editor .cm-line").count()).toBe(script.split("\n").length);
    await shot(page, "result");

    expect(requests.filter((url) => url.endsWith("/execute"))).toHaveLength(1);
    expect(elsewhere(requests, open.origin)).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  it("an error shows its code, message and traceback, and the failing line is marked in the editor", async () => {
    const { page, pageErrors } = await newPage();
    await page.locator("#example").selectOption("exception");
    await page.locator("#run").click();

    await runEnded(page);
    expect(await page.locator("#status .code").innerText()).toBe("RUNTIME_ERROR");
    expect(await page.locator("#status").innerText()).toContain("HTTP 400");
    expect(await page.locator("#error").innerText()).toBe("ZeroDivisionError: division by zero (line 2)");
    const traceback = await page.locator("#traceback pre").innerText();
    expect(traceback).toContain('File "script.py", line 6, in main');
    expect(traceback).toContain('File "script.py", line 2, in average');
    expect(await text(page, "#stdout pre")).toBe("before\n");

    // The innermost frame of the script, line 2, is the one marked.
    const marked = page.locator("#editor .cm-line.cm-failing-line");
    expect(await marked.count()).toBe(1);
    expect(await marked.innerText()).toBe("    return sum(values) / len(values)");
    const lines = await page.locator("#editor .cm-line").evaluateAll((nodes) => nodes.map((node) => node.classList.contains("cm-failing-line")));
    expect(lines.indexOf(true)).toBe(1);
    expect(await marked.getAttribute("title")).toBe("ZeroDivisionError: division by zero");
    await shot(page, "error");

    // A syntax error marks the line its message names.
    await page.locator("#example").selectOption("syntax-error");
    expect(await page.locator("#editor .cm-failing-line").count()).toBe(0);
    await page.locator("#run").click();
    await runEnded(page);
    expect(await page.locator("#status .code").innerText()).toBe("SYNTAX_ERROR");
    expect(await page.locator("#editor .cm-failing-line").innerText()).toBe("  x = 1 + ");
    expect(pageErrors).toEqual([]);
  });

  it("a plot's figure is shown as an image", async () => {
    const { page, pageErrors } = await newPage();
    await page.locator("#example").selectOption("plot");
    await page.locator("#run").click();
    await expectRunOk(page, 60_000);
    const image = page.locator("#figures img");
    expect(await image.count()).toBe(1);
    await expect.poll(() => image.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth), { timeout: 10_000 }).toBeGreaterThan(0);
    const size = await image.evaluate((img: HTMLImageElement) => ({ width: img.naturalWidth, height: img.naturalHeight, alt: img.alt }));
    expect(size.height).toBeGreaterThan(0);
    expect(size.alt).toBe(`Figure 1 (${size.width}×${size.height})`);
    await shot(page, "figure");
    expect(pageErrors).toEqual([]);
  });

  it("args and an input file go to the script; the file it writes is a download", async () => {
    const { page, pageErrors } = await newPage();
    await page.locator("#example").selectOption("csv-aggregate");
    expect(await page.locator("#inputs").getAttribute("open")).not.toBeNull();
    expect(await page.locator("#input-files input").inputValue()).toBe("sales.csv");
    await page.locator("#run").click();
    await expectRunOk(page, 60_000);
    // min_units=50 from args drops the south/pears row (40 units).
    const result = JSON.parse(await page.locator("#result pre").innerText()) as Record<string, unknown>;
    expect(result).toEqual({ rows: 5, revenue_by_region: { east: 126.5, north: 120.0, south: 90.0 } });

    const link = page.locator("#files a");
    expect(await link.innerText()).toBe("summary.csv");
    const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
    expect(download.suggestedFilename()).toBe("summary.csv");
    const saved = await download.createReadStream();
    let text = "";
    for await (const chunk of saved) text += String(chunk);
    expect(text.split("\n")[0]).toBe("region,units,revenue");
    await shot(page, "files");

    // A file attached from disk arrives byte for byte (another example first: no args, no files).
    await page.locator("#example").selectOption("hello");
    expect(await page.locator("#input-files li").count()).toBe(0);
    const bytes = Buffer.from([0, 1, 2, 253, 254, 255, 10, 13]);
    await page.locator("#file-input").setInputFiles({ name: "blob.bin", mimeType: "application/octet-stream", buffer: bytes });
    await typeScript(page, 'def main():\n    return list(open("blob.bin", "rb").read())\n');
    await page.locator("#run").click();
    await expectRunOk(page);
    expect(JSON.parse(await page.locator("#result pre").innerText())).toEqual([...bytes]);
    expect(pageErrors).toEqual([]);
  });

  it("args that are not a JSON object are refused by the page, naming the problem, and nothing is sent", async () => {
    const { page, requests } = await newPage();
    await page.locator("#inputs summary").click();
    await page.locator("#args .cm-content").click();
    await page.keyboard.insertText("[1, 2]");
    await page.locator("#run").click();
    expect(await page.locator("#form-error").innerText()).toMatch(/args must be a JSON object/);
    expect(requests.filter((url) => url.endsWith("/execute"))).toEqual([]);
  });

  it("at phone width the page is one column with nothing wider than the screen, and runs", async () => {
    const { page, pageErrors } = await newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    await shot(page, "phone-start");
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.locator("#example").selectOption("pandas-series");
    await page.locator("#run").tap();
    await expectRunOk(page);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    const editor = (await page.locator("#editor").boundingBox())!;
    const output = (await page.locator("#output").boundingBox())!;
    expect(output.y).toBeGreaterThanOrEqual(editor.y + editor.height);
    expect(output.width).toBeGreaterThan(300);
    await shot(page, "phone");
    expect(pageErrors).toEqual([]);
  });

  it("loads only the service's own files", async () => {
    const { page, requests } = await newPage();
    await page.waitForLoadState("networkidle");
    const paths = requests.map((url) => new URL(url).pathname);
    expect(paths).toEqual(expect.arrayContaining(["/", "/playground/playground.js", "/playground/playground.css", "/openapi.json"]));
    expect(elsewhere(requests, open.origin)).toEqual([]);
    // Auth is off: no key field.
    expect(await page.locator("#auth").isHidden()).toBe(true);
  });

  describe("with API keys on", () => {
    let keyed: Awaited<ReturnType<typeof servePage>>;

    beforeAll(async () => {
      keyed = await servePage({ API_KEYS: KEY });
    });
    afterAll(async () => {
      await keyed?.listening.close();
      await keyed?.sandbox.close();
    });

    it("shows the key field, sends the key, and keeps it for the tab only", async () => {
      const { page, pageErrors } = await openPage(browser, keyed.origin);
      await page.goto(`${keyed.origin}/`);
      await page.locator("#auth").waitFor({ state: "visible" });

      await page.locator("#run").click();
      await runEnded(page);
      expect(await page.locator("#status .code").innerText()).toBe("UNAUTHORIZED");

      await page.locator("#api-key").fill(KEY);
      await page.locator("#run").click();
      await expectRunOk(page);
      expect(await page.evaluate(() => Object.values(sessionStorage))).toEqual([KEY]);
      expect(await page.evaluate(() => Object.values(localStorage))).toEqual([]);
      await shot(page, "api-key");

      // Same tab: still there after a reload. Another tab (a new context): gone.
      await page.reload();
      expect(await page.locator("#api-key").inputValue()).toBe(KEY);
      const other = await openPage(browser, keyed.origin);
      await other.page.goto(`${keyed.origin}/`);
      expect(await other.page.locator("#api-key").inputValue()).toBe("");
      expect(pageErrors).toEqual([]);
    });
  });
});
