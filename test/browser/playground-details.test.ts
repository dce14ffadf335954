import { join } from "node:path";
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { EXAMPLES } from "../../playground/examples.js";
import { projectRoot } from "../../src/project-paths.js";
import { browserTestsRun, openPage, servedToBrowser, warnIfSkipped } from "../support/browser.js";

warnIfSkipped("playground details");

const SCREENSHOTS = join(projectRoot(), "test-results", "playground-details");

const example = (id: string) => {
  const found = EXAMPLES.find((candidate) => candidate.id === id);
  if (!found) throw new Error(`no example ${id}`);
  return found;
};

/** Replaces the script in the editor with `script`, typed in as a person pasting it would. */
async function typeScript(page: Page, script: string): Promise<void> {
  await page.locator("#editor .cm-content").click();
  await page.keyboard.press("ControlOrMeta+A");
  await page.keyboard.press("Delete");
  await page.keyboard.insertText(script);
}

/** Waits for the run to end and returns the status line. */
async function runEnded(page: Page): Promise<string> {
  const status = page.locator("#status.ok, #status.failed, #status.cancelled");
  await status.waitFor({ timeout: 60_000 });
  return status.innerText();
}

/** The text in an editor (#editor, #args), line by line as CodeMirror holds it. */
const editorText = async (page: Page, editor: string) => (await page.locator(`${editor} .cm-line`).allTextContents()).join("\n");

/** The text of the menu's selected entry, as the closed menu shows it. */
const menuShows = (page: Page) => page.locator("#example").evaluate((select: HTMLSelectElement) => select.selectedOptions[0]?.textContent);

const shot = (page: Page, name: string) => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });

describe.skipIf(!browserTestsRun)("the playground's details in a real browser", () => {
  const suite = servedToBrowser({ screenshots: SCREENSHOTS });

  const newPage = async (path = "/") => {
    const opened = await openPage(suite.browser, suite.origin);
    await opened.page.goto(`${suite.origin}${path}`);
    await opened.page.locator("#editor .cm-content").waitFor();
    return opened;
  };

  it("every id is unique after a run with input and output files", async () => {
    const { page, pageErrors } = await newPage("/#csv-aggregate");
    await page.locator("#run").click();
    expect(await runEnded(page)).toMatch(/^OK · /);
    expect(await page.locator("#input-files li").count()).toBe(1);
    expect(await page.locator("#files a").innerText()).toBe("summary.csv");
    const ids = await page.locator("[id]").evaluateAll((nodes) => nodes.map((node) => node.id));
    expect(ids.filter((id, i) => ids.indexOf(id) !== i)).toEqual([]);
    await shot(page, "unique-ids");
    expect(pageErrors).toEqual([]);
  });

  it("keeps the script, args, files and limits across a reload; an example chosen replaces them", async () => {
    const { page, pageErrors } = await newPage();
    const script = 'def main(n):\n    return open("notes.txt").read() * n\n';
    await typeScript(page, script);
    await page.locator("#inputs summary").click();
    await page.locator("#args .cm-content").click();
    await page.keyboard.insertText('{"n": 2}');
    await page.locator("#file-input").setInputFiles({ name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("kept\n") });
    await page.locator("#input-files li").waitFor();
    await page.locator("#timeout").fill("4000");
    await page.locator("#memory").fill("256");

    await page.reload();
    await page.locator("#editor .cm-content").waitFor();
    expect(await editorText(page, "#editor")).toBe(script);
    expect(await editorText(page, "#args")).toBe('{"n": 2}');
    expect(await page.locator("#input-files input").inputValue()).toBe("notes.txt");
    expect(await page.locator("#timeout").inputValue()).toBe("4000");
    expect(await page.locator("#memory").inputValue()).toBe("256");
    expect(await menuShows(page)).toBe("Your script");
    await page.locator("#run").click();
    expect(await runEnded(page)).toMatch(/^OK · /);
    expect(await page.locator("#result pre").innerText()).toBe('"kept\\nkept\\n"');
    await shot(page, "draft-restored");

    await page.locator("#example").selectOption("plot");
    expect(await page.evaluate(() => localStorage.length)).toBe(0);
    await page.reload();
    await page.locator("#editor .cm-content").waitFor();
    expect(await page.locator("#example").inputValue()).toBe("plot");
    expect(await editorText(page, "#editor")).toBe(example("plot").script);
    expect(await page.locator("#timeout").inputValue()).toBe("");
    expect(pageErrors).toEqual([]);
  });

  it("loads the example a changed address names (/#plot) on an open page", async () => {
    const { page, pageErrors } = await newPage();
    expect(await page.locator("#example").inputValue()).toBe("hello");
    await page.evaluate(() => {
      location.hash = "#plot";
    });
    await expect.poll(() => page.locator("#example").inputValue()).toBe("plot");
    expect(await editorText(page, "#editor")).toBe(example("plot").script);
    expect(await editorText(page, "#args")).toBe(JSON.stringify(example("plot").args, null, 2));
    await shot(page, "hashchange");
    expect(pageErrors).toEqual([]);
  });

  it("the menu names the example until it is edited, then shows Your script", async () => {
    const { page, pageErrors } = await newPage();
    await page.locator("#example").selectOption("dataframe");
    expect(await menuShows(page)).toBe(example("dataframe").title);
    expect(new URL(page.url()).hash).toBe("#dataframe");

    await page.locator("#editor .cm-content").click();
    await page.keyboard.press("ControlOrMeta+End");
    await page.keyboard.insertText("# mine\n");
    expect(await menuShows(page)).toBe("Your script");
    expect(await page.locator("#example").inputValue()).toBe("");
    // The address names no example any more: a reload brings back the draft, not the example.
    expect(new URL(page.url()).hash).toBe("");
    await shot(page, "your-script");
    expect(pageErrors).toEqual([]);
  });

  it("an example's limits are its own: shown as such, and cleared by the first edit of its script", async () => {
    const { page, pageErrors } = await newPage();
    const bodies: unknown[] = [];
    page.on("request", (request) => {
      if (request.url().endsWith("/execute")) bodies.push(request.postDataJSON());
    });
    await page.locator("#example").selectOption("timeout");
    expect(await page.locator("#timeout").inputValue()).toBe("2000");
    expect(await page.locator("#limits-note").innerText()).toBe("The example's limit (timeout 2000 ms): cleared when you change its script, args or files.");
    await shot(page, "limits-of-example");

    await typeScript(page, 'def main():\n    return "mine"\n');
    expect(await page.locator("#timeout").inputValue()).toBe("");
    expect(await page.locator("#limits-note").innerText()).toBe(
      "The example's limit (timeout 2000 ms) was cleared when you changed it: blank is the server's default.",
    );
    await page.locator("#run").click();
    expect(await runEnded(page)).toMatch(/^OK · /);
    expect(bodies).toEqual([{ script: 'def main():\n    return "mine"\n' }]);
    await shot(page, "limits-cleared");

    // A limit the user types is the user's: it stays through edits of the script.
    await page.locator("#example").selectOption("timeout");
    await page.locator("#timeout").fill("3000");
    expect(await page.locator("#limits-note").isHidden()).toBe(true);
    await typeScript(page, "def main():\n    return 3\n");
    expect(await page.locator("#timeout").inputValue()).toBe("3000");
    expect(pageErrors).toEqual([]);
  });

  it("Cancel stops waiting for a run, shows it cancelled, and the service stops the run", async () => {
    const { page, pageErrors } = await newPage();
    await typeScript(page, 'import time\n\ndef main():\n    print("sleeping")\n    time.sleep(600)\n');
    expect(await page.locator("#cancel").isHidden()).toBe(true);
    await page.locator("#run").click();
    await page.locator("#status.running").waitFor();
    expect(await page.locator("#run").isDisabled()).toBe(true);
    await shot(page, "running");

    await page.locator("#cancel").click();
    expect(await runEnded(page)).toMatch(/^Cancelled after \d+ ms: the service stops a run whose client has gone\.$/);
    expect(await page.locator("#cancel").isHidden()).toBe(true);
    expect(await page.locator("#run").isEnabled()).toBe(true);
    await expect
      .poll(() => suite.served.logs.lines.filter((line) => line.msg === "execution").map((line) => line.code), { timeout: 30_000 })
      .toContain("CANCELLED");
    await shot(page, "cancelled");

    await typeScript(page, "def main():\n    return 1\n");
    await page.locator("#run").click();
    expect(await runEnded(page)).toMatch(/^OK · /);
    expect(pageErrors).toEqual([]);
  });

  it("an input file's content can be looked at, read-only; a binary file says so", async () => {
    const { page, pageErrors } = await newPage();
    await page.locator("#example").selectOption("csv-aggregate");
    const file = page.locator("#input-files li").first();
    expect(await file.locator(".meta").innerText()).toBe(`${example("csv-aggregate").files?.[0]?.content.length} bytes`);
    expect(await file.locator("pre").isVisible()).toBe(false);
    await file.locator("summary").click();
    expect(await file.locator("pre").textContent()).toBe(example("csv-aggregate").files?.[0]?.content);
    expect(await file.locator("pre").evaluate((pre: HTMLElement) => pre.isContentEditable)).toBe(false);
    await shot(page, "input-file-content");

    await page.locator("#file-input").setInputFiles({ name: "blob.bin", mimeType: "application/octet-stream", buffer: Buffer.from([0, 1, 2, 253, 254, 255]) });
    const binary = page.locator("#input-files li").nth(1);
    expect(await binary.locator(".meta").innerText()).toBe("6 bytes, binary");
    expect(await binary.locator("details").count()).toBe(0);
    expect(pageErrors).toEqual([]);
  });

  it("has an icon: the page links it and /favicon.ico serves it, revalidated as the other files", async () => {
    const { page, pageErrors } = await newPage();
    const missing: string[] = [];
    page.on("response", (response) => {
      if (response.status() === 404) missing.push(response.url());
    });
    await page.reload();
    await page.waitForLoadState("networkidle");
    expect(await page.locator('link[rel="icon"]').getAttribute("href")).toBe("/favicon.ico");
    const icon = await fetch(`${suite.served.listening.url}/favicon.ico`);
    expect(icon.status).toBe(200);
    expect(Object.fromEntries(icon.headers)).toMatchObject({
      "content-type": "image/svg+xml",
      "cache-control": "no-cache",
      etag: expect.stringMatching(/^"[\w-]+"$/),
    });
    const again = await fetch(`${suite.served.listening.url}/favicon.ico`, { headers: { "if-none-match": icon.headers.get("etag")! } });
    expect(again.status).toBe(304);
    // A page of a context that intercepts requests cannot load /favicon.ico (playwright aborts it): this one does not.
    const plain = await (await suite.browser.newContext()).newPage();
    await plain.goto(`${suite.origin}/favicon.ico`);
    const size = await plain.evaluate(async () => {
      const image = new Image();
      image.src = "/favicon.ico";
      await image.decode();
      return { width: image.naturalWidth, height: image.naturalHeight };
    });
    expect(size).toEqual({ width: 32, height: 32 });
    await plain.screenshot({ path: join(SCREENSHOTS, "favicon.png") });
    expect(missing).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
