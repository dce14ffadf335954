/**
 * A client that goes away before its answer, over real HTTP and the real sandboxes: its run is
 * stopped (every process of it), and the sandbox slot it held goes to the next request long
 * before the run's own time limit. Over POST /execute on every backend, and over MCP.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backends, closeSandboxes, realApp } from "../support/backends.js";
import { type Listening, listen } from "../support/listening.js";
import { sample } from "../support/observing.js";
import { appearing, processesMatching, survivors } from "../support/processes.js";
import { type App, execute, expectStatus, py, uniqueMarker } from "../support/requests.js";

/** The run's time limit: far beyond anything the tests wait for. */
const LIMIT_MS = "600000";

/**
 * One run at a time; a request that finds it taken waits 30 s at most, then gets BUSY: a slot
 * held until the limit would turn the next request into a 429.
 */
const ONE_SLOT = { EXECUTION_TIMEOUT_MS: LIMIT_MS, MAX_CONCURRENCY: "1", MAX_QUEUE: "1", MAX_QUEUE_WAIT_MS: "30000" };

/** A run that would last until its limit, with a child process that carries `mark` on its command line. */
const lingering = (mark: string) => py`
  import subprocess
  import sys
  import time

  def main():
      subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)", "${mark}"])
      time.sleep(3600)
`;

/** Every process of the run is gone (polled for up to 20 s, against a limit of 600 s). */
const goneWithin20s = (mark: string) => survivors(() => processesMatching(mark), 400);

const cancelled = async (app: App) => sample(await (await app.request("/metrics")).text(), "pyexec_executions_total", { code: "CANCELLED" });

describe.each(await backends("subprocess", "nsjail", "nsjail zygote", "subprocess pooled", "nsjail pooled"))("$name: a client that goes away", (backend) => {
  let app: App;
  let server: Listening;
  beforeAll(async () => {
    app = await realApp(ONE_SLOT, backend);
    server = await listen({ fetch: (request) => app.request(request) });
  });
  afterAll(async () => {
    await server.close();
    await closeSandboxes();
  });

  it("has its run stopped, every process of it, and the slot it held goes to the next request", async () => {
    const mark = uniqueMarker();
    const client = new AbortController();
    const response = fetch(`${server.url}/execute`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ script: lingering(mark) }),
      signal: client.signal,
    });
    const refused = expect(response).rejects.toThrow(/abort/i);
    expect(await appearing(() => processesMatching(mark))).not.toEqual([]);

    client.abort();
    await refused;
    expect(await goneWithin20s(mark)).toEqual([]);
    const next = await execute(app, "def main():\n    return 'next'\n");
    expectStatus(next, 200);
    expect(next.body.result).toBe("next");
    expect(await cancelled(app)).toBe(1);
  }, 120_000);
});

describe("MCP: a client that closes its connection during a tool call", () => {
  let app: App;
  let server: Listening;
  beforeAll(async () => {
    app = await realApp(ONE_SLOT);
    server = await listen({ fetch: (request) => app.request(request) });
  });
  afterAll(async () => {
    await server.close();
    await closeSandboxes();
  });

  it("has the call's run stopped, and the slot goes to the next request", async () => {
    const mark = uniqueMarker();
    const client = new Client({ name: "cancel-test", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL("/mcp", server.url)));
    const call = client.callTool({ name: "run_python", arguments: { script: lingering(mark) } });
    const refused = expect(call).rejects.toThrow();
    expect(await appearing(() => processesMatching(mark))).not.toEqual([]);

    await client.close();
    await refused;
    expect(await goneWithin20s(mark)).toEqual([]);
    const next = await execute(app, "def main():\n    return 'next'\n");
    expectStatus(next, 200);
    expect(await cancelled(app)).toBe(1);
  }, 120_000);
});
