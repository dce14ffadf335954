/**
 * POST /execute sent again with the same Idempotency-Key, on the real app over the real
 * subprocess sandbox: a repeat gets the first answer and the script does not run again (the
 * executions are counted by /metrics), a repeat while the first still runs waits for it, the key
 * with another body is refused, and a run cancelled because its client left is not remembered.
 */
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeSandboxes, realApp } from "../support/backends.js";
import { type Listening, listen } from "../support/listening.js";
import { sample } from "../support/observing.js";
import { type App, expectStatus, py } from "../support/requests.js";

let app: App;
let gates: string;
beforeAll(async () => {
  app = await realApp();
  // Where the test opens the gates of the scripts that wait for one: readable by a run's own uid.
  gates = await mkdtemp(join(tmpdir(), "idempotency-gates-"));
  await chmod(gates, 0o755);
});
afterAll(async () => {
  await closeSandboxes();
  await rm(gates, { recursive: true, force: true });
});

const scrape = async (): Promise<string> => (await app.request("/metrics")).text();

/** Executions the server has run to `code`. */
const executions = async (code: string): Promise<number> => sample(await scrape(), "pyexec_executions_total", { code }) ?? 0;

/** POSTs `body` to /execute as JSON with the Idempotency-Key `key`. */
async function send(key: string, body: Record<string, unknown>) {
  const response = await app.request("/execute", {
    method: "POST",
    headers: { "content-type": "application/json", "idempotency-key": `"${key}"` },
    body: JSON.stringify(body),
  });
  return { status: response.status, replayed: response.headers.get("idempotent-replayed"), text: await response.text() };
}

/** A script that prints and returns a token of its run's own: two runs never show the same one. */
const TOKEN = py`
  import uuid

  def main():
      token = uuid.uuid4().hex
      print(token)
      return token
`;

/** A script that waits until the test creates `gate`, then returns a token of its run's own. */
const waitingFor = (gate: string) => py`
  import os
  import time
  import uuid

  def main():
      while not os.path.exists(${JSON.stringify(gate)}):
          time.sleep(0.01)
      return uuid.uuid4().hex
`;

describe("POST /execute with an Idempotency-Key", () => {
  it("a script that timed out, sent again with its key, gets the same 408 and does not run again", async () => {
    const before = await executions("TIMEOUT");
    const replayed = async () => sample(await scrape(), "pyexec_idempotent_requests_total", { outcome: "replayed" }) ?? 0;
    const replayedBefore = await replayed();
    const body = { script: 'import time\n\ndef main():\n    print("Sleeping...")\n    time.sleep(60)\n', timeoutMs: 1000 };
    const first = await send("timed-out", body);
    expectStatus(first, 408);
    expect(JSON.parse(first.text)).toMatchObject({ code: "TIMEOUT", stdout: "Sleeping...\n" });
    // What the server holds for it is counted.
    expect(sample(await scrape(), "pyexec_idempotency_bytes")).toBeGreaterThanOrEqual(Buffer.byteLength(first.text));

    const again = await send("timed-out", body);
    expect(again).toEqual({ ...first, replayed: "true" });
    expect(await executions("TIMEOUT")).toBe(before + 1);
    expect(await replayed()).toBe(replayedBefore + 1);
  });

  it("a success sent again gets the first run's own output, and another key runs anew", async () => {
    const before = await executions("OK");
    const first = await send("token", { script: TOKEN });
    expectStatus(first, 200);
    const again = await send("token", { script: TOKEN });
    expect(again).toEqual({ ...first, replayed: "true" });

    const other = await send("another token", { script: TOKEN });
    expectStatus(other, 200);
    expect(JSON.parse(other.text).result).not.toBe(JSON.parse(first.text).result);
    expect(await executions("OK")).toBe(before + 2);
  });

  it("a repeat sent while the first request runs waits for it and gets its answer; the script runs once", async () => {
    const before = await executions("OK");
    const gate = join(gates, "waiting");
    const body = { script: waitingFor(gate) };
    const first = send("waiting", body);
    await expect.poll(async () => sample(await scrape(), "pyexec_running_sandboxes"), { timeout: 30_000 }).toBe(1);
    const repeat = send("waiting", body);
    await expect.poll(async () => sample(await scrape(), "pyexec_idempotent_requests_total", { outcome: "waited" })).toBe(1);

    await writeFile(gate, "");
    const [firstAnswer, repeatAnswer] = await Promise.all([first, repeat]);
    expectStatus(firstAnswer, 200);
    expect(repeatAnswer).toEqual({ ...firstAnswer, replayed: "true" });
    expect(await executions("OK")).toBe(before + 1);
  });

  it("the same key with another body is a 422 IDEMPOTENCY_KEY_REUSED, and nothing runs", async () => {
    const first = await send("reused", { script: TOKEN });
    expectStatus(first, 200);
    const before = await executions("OK");

    const refused = await send("reused", { script: TOKEN, timeoutMs: 5000 });
    expectStatus(refused, 422);
    expect(JSON.parse(refused.text)).toMatchObject({ code: "IDEMPOTENCY_KEY_REUSED", error: expect.stringContaining('Idempotency-Key "reused"') });
    expect(await executions("OK")).toBe(before);
    // The key still stands for its first request.
    expect(await send("reused", { script: TOKEN })).toEqual({ ...first, replayed: "true" });
  });

  describe("over a socket, when the client goes away", () => {
    let server: Listening;
    beforeAll(async () => {
      server = await listen({ fetch: (request) => app.request(request) });
    });
    afterAll(async () => {
      await server.close();
    });

    it("its run is cancelled and not remembered: the request sent again with the key runs, to its own answer", async () => {
      const [cancelledBefore, okBefore] = [await executions("CANCELLED"), await executions("OK")];
      const gate = join(gates, "client-gone");
      const body = JSON.stringify({ script: waitingFor(gate) });
      const headers = { "content-type": "application/json", "idempotency-key": '"client-gone"' };
      const client = new AbortController();
      const gone = fetch(`${server.url}/execute`, { method: "POST", headers, body, signal: client.signal });
      const refused = expect(gone).rejects.toThrow(/abort/i);
      await expect.poll(async () => sample(await scrape(), "pyexec_running_sandboxes"), { timeout: 30_000 }).toBe(1);
      client.abort();
      await refused;
      await expect.poll(() => executions("CANCELLED"), { timeout: 30_000 }).toBe(cancelledBefore + 1);

      await writeFile(gate, "");
      const again = await fetch(`${server.url}/execute`, { method: "POST", headers, body });
      expect(again.status).toBe(200);
      expect(again.headers.get("idempotent-replayed")).toBeNull();
      expect(await executions("OK")).toBe(okBefore + 1);
    });
  });
});
