import type { Locator, Page } from "playwright-core";
import { expect } from "vitest";

/** Swagger UI's POST /execute operation on a page showing /docs (the path exactly: /sessions/{id}/execute is another). */
export const executeOperationBlock = (page: Page): Locator =>
  page.locator(".opblock-post").filter({ has: page.locator('.opblock-summary-path[data-path="/execute"]') });

/** Swagger UI's POST /execute operation on a page showing /docs, unfolded. */
export async function executeOperation(page: Page): Promise<Locator> {
  const operation = executeOperationBlock(page);
  await operation.locator(".opblock-summary").click();
  return operation;
}

/** Makes the operation's form editable ("Try it out"), unless the page opened it so (the service turns tryItOutEnabled on). */
export async function tryItOut(operation: Locator): Promise<void> {
  const tryOut = operation.locator("button.try-out__btn");
  if ((await tryOut.textContent())?.trim() !== "Cancel") await tryOut.click();
}

/** Sends `body` with "Execute" and waits for the live response: its status and the body shown. */
export async function executeShowing(operation: Locator, body: unknown, timeoutMs: number): Promise<{ status: string | undefined; shown: string }> {
  await operation.locator("textarea.body-param__text").fill(JSON.stringify(body));
  await operation.getByRole("button", { name: "Execute", exact: true }).click();
  const live = operation.locator(".live-responses-table");
  const status = live.locator(".response .response-col_status").first();
  await expect.poll(async () => (await status.textContent())?.trim(), { timeout: timeoutMs }).toMatch(/^\d{3}$/);
  return { status: (await status.textContent())?.trim(), shown: (await live.locator(".response-col_description pre").first().textContent()) ?? "" };
}
