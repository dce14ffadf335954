/**
 * The MCP session tools driven by the official MCP client, against the real app over the real
 * subprocess sandbox and harness: the steps of docs/playground-and-mcp.md's agent transcript.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeSandboxes, realApp } from "../support/backends.js";
import type { App } from "../support/requests.js";

const KEYS = ["agent-key-a-0123456789", "agent-key-b-0123456789"] as const;

async function connectTo(app: App, key: string): Promise<Client> {
  const client = new Client({ name: "mcp-sessions-test", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL("http://localhost/mcp"), {
    fetch: async (url, init) => app.request(String(url), init),
    requestInit: { headers: { Authorization: `Bearer ${key}` } },
  });
  await client.connect(transport);
  return client;
}

const call = async (client: Client, name: string, args: Record<string, unknown>) => (await client.callTool({ name, arguments: args })) as CallToolResult;
const bodyOf = (result: CallToolResult): Record<string, unknown> => {
  const text = result.content.find((item) => item.type === "text");
  if (text?.type !== "text") throw new Error(`no text content in ${JSON.stringify(result)}`);
  return JSON.parse(text.text) as Record<string, unknown>;
};

describe("MCP sessions over the real sandbox", () => {
  let app: App;
  let agent: Client;
  let other: Client;

  beforeAll(async () => {
    app = await realApp({ API_KEYS: KEYS.join(",") });
    agent = await connectTo(app, KEYS[0]);
    other = await connectTo(app, KEYS[1]);
  });
  afterAll(async () => {
    await Promise.all([agent.close(), other.close()]);
    await closeSandboxes();
  });

  it("an agent loads data once and explores it call after call; a failed cell changes nothing; ending the session ends it", async () => {
    const started = await call(agent, "start_session", {});
    expect(started.isError ?? false).toBe(false);
    const sessionId = (started.structuredContent as { sessionId: string }).sessionId;
    expect(sessionId).toMatch(/^[A-Za-z0-9_-]{22,}$/);

    const loaded = await call(agent, "run_python", {
      sessionId,
      script: "import pandas as pd\nsales = pd.DataFrame({'region': ['north', 'south', 'north'], 'amount': [120, 80, 45]})\nlen(sales)",
    });
    expect(bodyOf(loaded)).toMatchObject({ result: 3, resultKind: "json" });
    const summed = await call(agent, "run_python", { sessionId, script: "sales.groupby('region').amount.sum().to_dict()" });
    expect(bodyOf(summed).result).toEqual({ north: 165, south: 80 });

    const typo = await call(agent, "run_python", { sessionId, script: "sales.amount.mean() / totl" });
    expect(typo.isError).toBe(true);
    expect(bodyOf(typo)).toMatchObject({ code: "RUNTIME_ERROR", error: "NameError: name 'totl' is not defined" });
    expect(bodyOf(await call(agent, "run_python", { sessionId, script: "int(sales.amount.sum())" })).result).toBe(245);

    const plotted = await call(agent, "run_python", {
      sessionId,
      script: "import matplotlib.pyplot as plt\nsales.plot.bar(x='region', y='amount')\nplt.show()",
    });
    expect(plotted.content.filter((item) => item.type === "image").map((item) => item.type === "image" && item.mimeType)).toEqual(["image/png"]);

    expect(bodyOf(await call(agent, "end_session", { sessionId }))).toEqual({ sessionId, ended: true });
    const after = await call(agent, "run_python", { sessionId, script: "len(sales)" });
    expect(after.isError).toBe(true);
    expect(bodyOf(after)).toMatchObject({ code: "SESSION_NOT_FOUND", fix: expect.stringContaining("start_session") });
  });

  it("a session is its API key's: the same over HTTP for that key, not found for another over MCP and HTTP", async () => {
    const sessionId = (bodyOf(await call(agent, "start_session", {})) as { sessionId: string }).sessionId;
    await call(agent, "run_python", { sessionId, script: "answer = 42" });
    const overHttp = await app.request(`/sessions/${sessionId}/execute`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${KEYS[0]}` },
      body: JSON.stringify({ code: "answer" }),
    });
    expect(await overHttp.json()).toMatchObject({ result: 42 });
    const stranger = await call(other, "run_python", { sessionId, script: "answer" });
    expect(bodyOf(stranger).code).toBe("SESSION_NOT_FOUND");
    const strangerHttp = await app.request(`/sessions/${sessionId}`, { headers: { authorization: `Bearer ${KEYS[1]}` } });
    expect(strangerHttp.status).toBe(404);
    await call(agent, "end_session", { sessionId });
  });
});
