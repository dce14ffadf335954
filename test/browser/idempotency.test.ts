import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { projectRoot } from "../../src/project-paths.js";
import { browserTestsRun, openPage, servedToBrowser, warnIfSkipped } from "../support/browser.js";
import { sample } from "../support/observing.js";
import { executeOperation, executeShowing, tryItOut } from "../support/swagger-ui.js";

warnIfSkipped("idempotency");

const SCREENSHOTS = join(projectRoot(), "test-results", "idempotency");

/** A script that is still sleeping when its limit of TIMEOUT_MS stops it. */
const SLEEPER = 'import time\n\ndef main():\n    print("Sleeping...")\n    time.sleep(60)\n';
const TIMEOUT_MS = 2000;

describe.skipIf(!browserTestsRun)("a script that times out, run by one click in a real browser", () => {
  const suite = servedToBrowser({ screenshots: SCREENSHOTS });

  /** Executions the server has run to a TIMEOUT, from its metrics. */
  const timeouts = async (): Promise<number> => sample(await suite.served.metrics(), "pyexec_executions_total", { code: "TIMEOUT" }) ?? 0;

  /** The POST /execute requests the server has answered, and those it answered with an earlier answer, from its log. */
  const requests = () => ({
    answered: suite.served.logs.lines.filter((line) => line.msg === "request" && line.path === "/execute").length,
    replayed: suite.served.logs.lines.filter((line) => line.msg === "idempotent request not run" && line.outcome === "replayed").length,
  });

  /** One request ran since `before`; any more the browser sent were given its answer. */
  const expectOneRun = async (before: { timeouts: number; requests: ReturnType<typeof requests> }) => {
    expect(await timeouts()).toBe(before.timeouts + 1);
    const now = requests();
    expect(now.answered - before.requests.answered).toBe(1 + now.replayed - before.requests.replayed);
  };

  it("the playground's Run runs it once and shows the TIMEOUT", async () => {
    const before = { timeouts: await timeouts(), requests: requests() };
    const { page, pageErrors } = await openPage(suite.browser, suite.origin);
    await page.goto(`${suite.origin}/`);
    await page.locator("#editor .cm-content").waitFor();
    await page.locator("#example").selectOption("timeout");
    await page.locator("#run").click();

    // The page shows an answer only once the browser is done with its resends.
    await page.locator("#status.failed").waitFor({ timeout: 60_000 });
    expect(await page.locator("#status .code").innerText()).toBe("TIMEOUT");
    expect(await page.locator("#status").innerText()).toContain("HTTP 408");
    await page.screenshot({ path: join(SCREENSHOTS, "playground.png"), fullPage: true });
    await expectOneRun(before);
    expect(pageErrors).toEqual([]);
  });

  it('Swagger UI\'s "Try it out" runs it once and shows the 408', async () => {
    const before = { timeouts: await timeouts(), requests: requests() };
    const { page, pageErrors } = await openPage(suite.browser, suite.origin);
    await page.goto(`${suite.origin}/docs`);
    const operation = await executeOperation(page);
    await tryItOut(operation);
    const { status, shown } = await executeShowing(operation, { script: SLEEPER, timeoutMs: TIMEOUT_MS }, 60_000);
    expect(status, shown).toBe("408");
    expect(JSON.parse(shown)).toMatchObject({ code: "TIMEOUT", stdout: "Sleeping...\n" });
    await operation.screenshot({ path: join(SCREENSHOTS, "swagger-ui.png") });
    await expectOneRun(before);
    expect(pageErrors).toEqual([]);
  });
});
