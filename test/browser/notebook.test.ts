/**
 * The playground's notebook mode in a real browser (test/support/browser.ts), against the real
 * app and its sessions over the real subprocess sandbox: cells that share one Python, their
 * output, Restart, and a session that ended. Each state is saved as a screenshot in
 * test-results/notebook/.
 */
import { join } from "node:path";
import type { Page, Request } from "playwright-core";
import { describe, expect, it } from "vitest";
import { projectRoot } from "../../src/project-paths.js";
import { browserTestsRun, elsewhere, openPage, servedToBrowser, warnIfSkipped } from "../support/browser.js";
import { type Served, serveApp, slowed } from "../support/real-app.js";

warnIfSkipped("notebook");

const SCREENSHOTS = join(projectRoot(), "test-results", "notebook");
const KEY = "notebook-test-key-0123";

const cell = (page: Page, i: number) => page.locator("#cells .cell").nth(i);

/** Replaces the code of cell `i` (adding cells until there is one), typed in as a person pasting it would. */
async function typeCell(page: Page, i: number, code: string): Promise<void> {
  while ((await page.locator("#cells .cell").count()) <= i) await page.locator("#add-cell").click();
  await cell(page, i).locator(".cm-content").click();
  await page.keyboard.press("ControlOrMeta+A");
  await page.keyboard.press("Delete");
  await page.keyboard.insertText(code);
}

/** Waits for cell `i`'s run to end and returns its status line. */
async function cellRan(page: Page, i: number): Promise<string> {
  const status = cell(page, i).locator(".cell-output .status.ok, .cell-output .status.failed, .cell-output .status.cancelled");
  await status.waitFor({ timeout: 60_000 });
  return status.innerText();
}

/** Runs cell `i` with its Run button and expects success, showing the error when it is not. */
async function runOk(page: Page, i: number): Promise<void> {
  await cell(page, i).locator("button.run").click();
  const status = await cellRan(page, i);
  const error = (await cell(page, i).locator(".error-message").count()) > 0 ? await cell(page, i).locator(".error-message").innerText() : "";
  expect(status, error).toMatch(/^OK · HTTP 200 · ran \d+ ms · round trip \d+ ms$/);
}

const resultOf = (page: Page, i: number) => cell(page, i).locator(".block-result pre").innerText();

const shot = (page: Page, name: string) => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });

/** The session calls a page made, as "METHOD /path". */
function sessionCalls(page: Page): string[] {
  const calls: string[] = [];
  page.on("request", (request: Request) => {
    const { pathname } = new URL(request.url());
    if (pathname.startsWith("/sessions")) calls.push(`${request.method()} ${pathname}`);
  });
  return calls;
}

const sessionId = async (page: Page) => (await page.locator("#session-status code").innerText()).trim();

describe.skipIf(!browserTestsRun)("the playground's notebook in a real browser", () => {
  const suite = servedToBrowser({ screenshots: SCREENSHOTS });

  const newNotebook = async (origin = suite.origin) => {
    const opened = await openPage(suite.browser, origin);
    await opened.page.goto(`${origin}/`);
    await opened.page.locator("#mode-notebook").click();
    await cell(opened.page, 0).locator(".cm-content").waitFor();
    return opened;
  };

  it("a name one cell defines is there for the next: x = 41, then x + 1 shows 42 (Shift+Enter runs and moves on)", async () => {
    const { page, requests, pageErrors } = await newNotebook();
    const calls = sessionCalls(page);
    expect(await page.locator("#script-mode").isHidden()).toBe(true);
    expect(await page.locator("#run").isHidden()).toBe(true);
    expect(await page.locator("#session-status").innerText()).toBe("No session yet: the first cell you run starts one.");

    await typeCell(page, 0, "x = 41");
    await page.keyboard.press("Shift+Enter");
    expect(await cellRan(page, 0)).toMatch(/^OK · /);
    // A cell ending with a statement shows no result; the prompt numbers the cell in the session.
    expect(await cell(page, 0).locator(".block-result").count()).toBe(0);
    expect(await cell(page, 0).locator(".prompt").innerText()).toBe("[1]");
    // Shift+Enter moved the focus to the next cell.
    expect(
      await cell(page, 1)
        .locator(".cm-content")
        .evaluate((node) => node === document.activeElement),
    ).toBe(true);

    await page.keyboard.press("ControlOrMeta+A");
    await page.keyboard.press("Delete");
    await page.keyboard.insertText("x + 1");
    await page.keyboard.press("Shift+Enter");
    expect(await cellRan(page, 1)).toMatch(/^OK · /);
    expect(await resultOf(page, 1)).toBe("42");
    expect(await cell(page, 1).locator(".prompt").innerText()).toBe("[2]");
    // Shift+Enter in the last cell made a new one, focused.
    expect(await page.locator("#cells .cell").count()).toBe(3);
    expect(
      await cell(page, 2)
        .locator(".cm-content")
        .evaluate((node) => node === document.activeElement),
    ).toBe(true);

    const id = await sessionId(page);
    expect(id).not.toBe("");
    expect(calls).toEqual(["POST /sessions", `POST /sessions/${id}/execute`, `POST /sessions/${id}/execute`]);
    await shot(page, "state");
    // Many cells, each with its output: still no id twice on the page.
    const ids = await page.locator("[id]").evaluateAll((nodes) => nodes.map((node) => node.id));
    expect(ids.filter((name, i) => ids.indexOf(name) !== i)).toEqual([]);
    expect(elsewhere(requests, suite.origin)).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  it("shows what a cell printed, a value's repr as text, and a figure", async () => {
    const { page, pageErrors } = await newNotebook();
    await typeCell(page, 0, 'import pandas as pd\nprint("hello from a cell")\npd.DataFrame({"n": [1, 2]})');
    await runOk(page, 0);
    expect(await cell(page, 0).locator(".block-stdout pre").textContent()).toBe("hello from a cell\n");
    // resultKind "repr": the repr itself, not a quoted JSON string.
    expect(await cell(page, 0).locator(".block-result pre.repr").textContent()).toBe("   n\n0  1\n1  2");
    expect(await cell(page, 0).locator(".block-stderr").count()).toBe(0);
    await shot(page, "output");

    await typeCell(page, 1, "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [1, 4, 9])\nplt.title('squares')\nplt.show()");
    await runOk(page, 1);
    const image = cell(page, 1).locator(".block-figures img");
    await expect.poll(() => image.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)).toBe(true);
    expect(await image.getAttribute("src")).toMatch(/^data:image\/png;base64,iVBORw0KGgo/);
    await image.scrollIntoViewIfNeeded();
    await shot(page, "figure");
    expect(pageErrors).toEqual([]);
  });

  it("an error shows its code, message and traceback, and marks the failing line; the session goes on", async () => {
    const { page, pageErrors } = await newNotebook();
    await typeCell(page, 0, "def half(n):\n    return n / 0\n\nhalf(4)");
    await cell(page, 0).locator("button.run").click();
    expect(await cellRan(page, 0)).toMatch(/^RUNTIME_ERROR · HTTP \d+/);
    expect(await cell(page, 0).locator(".error-message").innerText()).toMatch(/^ZeroDivisionError: division by zero/);
    const traceback = await cell(page, 0).locator(".block-traceback pre").innerText();
    expect(traceback).toMatch(/^Traceback \(most recent call last\):/);
    expect(traceback).toContain("return n / 0");
    expect(await cell(page, 0).locator(".cm-failing-line").innerText()).toBe("    return n / 0");
    await shot(page, "error");

    // The failure did not end the session: what the cell defined before failing is there.
    await typeCell(page, 1, "half.__name__");
    await runOk(page, 1);
    expect(await resultOf(page, 1)).toBe('"half"');
    expect(await page.locator("#session-status.ended").count()).toBe(0);
    expect(pageErrors).toEqual([]);
  });

  it("cells never overlap: a cell run while another runs waits for it", async () => {
    const { page, pageErrors } = await newNotebook();
    const answers: number[] = [];
    page.on("response", (response) => {
      if (response.url().endsWith("/execute")) answers.push(response.status());
    });
    await typeCell(page, 0, "import time\ntime.sleep(2)\nx = 41");
    await typeCell(page, 1, "x + 1");
    await cell(page, 0).locator("button.run").click();
    await cell(page, 0).locator(".status.running").waitFor();
    await cell(page, 1).locator("button.run").click();
    expect(await cell(page, 1).locator(".status.queued").innerText()).toBe("Waiting for the cells before it…");
    expect(await cell(page, 1).locator("button.run").isDisabled()).toBe(true);
    await shot(page, "waiting");
    expect(await cellRan(page, 1)).toMatch(/^OK · /);
    expect(await cellRan(page, 0)).toMatch(/^OK · /);
    expect(await resultOf(page, 1)).toBe("42");
    expect(answers).toEqual([200, 200]);
    expect(pageErrors).toEqual([]);
  });

  it("Restart ends the session and forgets x, keeping the code: x + 1 is then a NameError", async () => {
    const { page, pageErrors } = await newNotebook();
    const calls = sessionCalls(page);
    await typeCell(page, 0, "x = 41");
    await typeCell(page, 1, "x + 1");
    await runOk(page, 0);
    await runOk(page, 1);
    const first = await sessionId(page);

    await page.locator("#restart").click();
    await expect.poll(() => calls.at(-1)).toBe(`DELETE /sessions/${first}`);
    expect(await page.locator(".cell-output").evaluateAll((outputs) => outputs.map((output) => output.childElementCount))).toEqual([0, 0]);
    expect(await page.locator(".prompt").allInnerTexts()).toEqual(["[ ]", "[ ]"]);
    expect(await cell(page, 0).locator(".cm-line").allTextContents()).toEqual(["x = 41"]);
    expect(await page.locator("#session-status").innerText()).toBe("No session yet: the first cell you run starts one.");
    // The service no longer has it.
    expect((await fetch(`${suite.served.listening.url}/sessions/${first}`)).status).toBe(404);

    await cell(page, 1).locator("button.run").click();
    expect(await cellRan(page, 1)).toMatch(/^RUNTIME_ERROR · /);
    expect(await cell(page, 1).locator(".error-message").innerText()).toMatch(/^NameError: name 'x' is not defined/);
    expect(await cell(page, 1).locator(".prompt").innerText()).toBe("[1]");
    expect(await sessionId(page)).not.toBe(first);
    await shot(page, "restarted");
    expect(pageErrors).toEqual([]);
  });

  it("a session that ended (DELETE from elsewhere) shows the sign, and the next run starts a new one", async () => {
    const { page, pageErrors } = await newNotebook();
    await typeCell(page, 0, "x = 41");
    await typeCell(page, 1, "x + 1");
    await runOk(page, 0);
    const first = await sessionId(page);
    expect((await fetch(`${suite.served.listening.url}/sessions/${first}`, { method: "DELETE" })).status).toBe(204);

    await cell(page, 1).locator("button.run").click();
    expect(await cellRan(page, 1)).toMatch(/^SESSION_NOT_FOUND · HTTP 404$/);
    expect(await cell(page, 1).locator(".error-message").innerText()).toBe("Not run: the session had ended.");
    const sign = page.locator("#session-status.ended");
    expect(await sign.innerText()).toMatch(/^Session ended: .+\. Run a cell to start a new one\.$/);
    await shot(page, "ended");

    // The next run starts a new session, which has no x.
    await cell(page, 1).locator("button.run").click();
    expect(await cellRan(page, 1)).toMatch(/^RUNTIME_ERROR · /);
    expect(await cell(page, 1).locator(".error-message").innerText()).toMatch(/^NameError/);
    expect(await sign.count()).toBe(0);
    expect(await sessionId(page)).not.toBe(first);
    await runOk(page, 0);
    await cell(page, 1).locator("button.run").click();
    expect(await cellRan(page, 1)).toMatch(/^OK · /);
    expect(await resultOf(page, 1)).toBe("42");
    await shot(page, "new-session");
    expect(pageErrors).toEqual([]);
  });

  it("the mode and the cells' code come back after a reload", async () => {
    const { page, pageErrors } = await newNotebook();
    await typeCell(page, 0, "y = 2");
    await typeCell(page, 1, "y * 21");
    await page.reload();
    await cell(page, 1).locator(".cm-content").waitFor();
    expect(await page.locator("#mode-notebook").getAttribute("aria-selected")).toBe("true");
    expect(await page.locator("#cells .cell .cm-content").allInnerTexts()).toEqual(["y = 2", "y * 21"]);

    // Back to script mode: the script's page as it was; a reload stays there.
    await page.locator("#mode-script").click();
    expect(await page.locator("#notebook").isHidden()).toBe(true);
    expect(await page.locator("#run").isVisible()).toBe(true);
    await page.reload();
    await page.locator("#editor .cm-content").waitFor();
    expect(await page.locator("#notebook").isHidden()).toBe(true);
    expect(pageErrors).toEqual([]);
  });

  /** The same browser, on a server of the test's own (`env`), closed after `use`. */
  async function onServer(env: Record<string, string>, use: (served: Served, origin: string) => Promise<void>): Promise<void> {
    const served = await serveApp(env);
    try {
      await use(served, suite.origin.replace(/:\d+$/, `:${served.listening.port}`));
    } finally {
      await served.close();
    }
  }

  // Chromium sends a request answered 408 again on a reused connection: the page sends an Idempotency-Key with each
  // cell, and the service answers the repeats with the first answer (without it the cell ran once per send: runs was 3).
  it("a cell over its time limit is a TIMEOUT (HTTP 408), run once, and the session keeps what it defined", async () => {
    await onServer({ EXECUTION_TIMEOUT_MS: slowed(2000) }, async (served, origin) => {
      const { page, pageErrors } = await newNotebook(origin);
      await typeCell(page, 0, 'runs = globals().get("runs", 0) + 1\nimport time\nprint("sleeping")\ntime.sleep(60)');
      await typeCell(page, 1, "runs");
      await cell(page, 0).locator("button.run").click();
      // Chromium sends a request answered 408 again on a reused connection: the cell must still have run once.
      expect(await cellRan(page, 0)).toMatch(/^TIMEOUT · HTTP 408 · /);
      expect(await cell(page, 0).locator(".block-stdout pre").textContent()).toBe("sleeping\n");
      await shot(page, "timeout");
      await runOk(page, 1);
      expect(await resultOf(page, 1)).toBe("1");
      const cellsAnswered = served.logs.lines.filter((line) => line.msg === "request" && /^\/sessions\/[^/]+\/execute$/.test(String(line.path)));
      const repeatsNotRun = served.logs.lines.filter((line) => line.msg === "idempotent request not run");
      expect(cellsAnswered.length - repeatsNotRun.length).toBe(2);
      expect(await page.locator("#session-status.ended").count()).toBe(0);
      expect(pageErrors).toEqual([]);
    });
  });

  it("with API keys on, asks for the key on a 401 and sends it with every session call", async () => {
    await onServer({ API_KEYS: KEY }, async (_served, origin) => {
      {
        const { page, pageErrors } = await newNotebook(origin);
        const authorizations: (string | undefined)[] = [];
        page.on("request", (request) => {
          if (new URL(request.url()).pathname.startsWith("/sessions")) authorizations.push(request.headers().authorization);
        });
        await typeCell(page, 0, "x = 41");
        await cell(page, 0).locator("button.run").click();
        expect(await cellRan(page, 0)).toMatch(/^Not run · no session could be started: UNAUTHORIZED/);
        await page.locator("#auth").waitFor({ state: "visible" });

        await page.locator("#api-key").fill(KEY);
        await runOk(page, 0);
        await page.locator("#restart").click();
        await expect.poll(() => authorizations.length).toBe(4);
        expect(authorizations).toEqual([undefined, `Bearer ${KEY}`, `Bearer ${KEY}`, `Bearer ${KEY}`]);
        await shot(page, "api-key");
        expect(pageErrors).toEqual([]);
      }
    });
  });
});
