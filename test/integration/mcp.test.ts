/**
 * The MCP endpoint driven by the official MCP client (Streamable HTTP) over real HTTP, against
 * the real app over the real subprocess sandbox and harness.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport, StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { maxBodyBytes } from "../../src/http/execute.js";
import { sample } from "../support/observing.js";
import { decodePng } from "../support/png.js";
import { type Served, serveApp, testConfig } from "../support/real-app.js";

/** The pandas script of seeds.test.ts's "an nsjail README" example, as that README sends it. */
const SEED_SCRIPT =
  'import numpy as np\nimport pandas as pd\n\ndef main():\n    print("Calculating...")\n    s = pd.Series([1, 3, 5, np.nan, 6, 8])\n    print(f"Series length: {len(s)}")\n    # Convert numpy types for JSON\n    return {"total": float(s.sum()), "count": int(s.count()) }';

const KEY = "mcp-test-key-0123456789";

async function connect(url: string, headers: Record<string, string> = {}): Promise<Client> {
  const client = new Client({ name: "mcp-test", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL("/mcp", url), { requestInit: { headers } }));
  return client;
}

const textOf = (result: CallToolResult): string => {
  const text = result.content.find((item) => item.type === "text");
  if (text?.type !== "text") throw new Error(`no text content in ${JSON.stringify(result)}`);
  return text.text;
};

const callRunPython = async (client: Client, args: Record<string, unknown>) =>
  (await client.callTool({ name: "run_python", arguments: args })) as CallToolResult;

describe("MCP endpoint, auth off", () => {
  let served: Served;
  let client: Client;

  beforeAll(async () => {
    served = await serveApp();
    client = await connect(served.listening.url);
  });
  afterAll(async () => {
    await client?.close();
    await served?.listening.close();
    await served?.sandbox.close();
  });

  it("initializes: the server names itself and offers tools", () => {
    expect(client.getServerVersion()).toMatchObject({ name: "python-exec-service", version: expect.any(String) });
    expect(client.getServerCapabilities()?.tools).toBeDefined();
  });

  it("lists one tool, run_python, whose input schema is the /execute request with the server's limits", async () => {
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name)).toEqual(["run_python"]);
    const [tool] = tools;
    expect(tool!.description).toMatch(/main\(\)/);
    const schema = tool!.inputSchema as { properties: Record<string, Record<string, unknown>>; required: string[] };
    expect(schema.required).toEqual(["script"]);
    expect(schema.properties.script).toMatchObject({ type: "string", minLength: 1 });
    const config = testConfig();
    expect(schema.properties.timeoutMs).toMatchObject({ type: "integer", maximum: config.executionTimeoutMs });
    expect(schema.properties.memoryMb).toMatchObject({ type: "integer", maximum: config.memoryLimitMb });
    // Every field carries its description to the model, as in the OpenAPI document.
    const doc = (await (await fetch(`${served.listening.url}/openapi.json`)).json()) as any;
    const documented = doc.components.schemas.ExecuteRequest.properties as Record<string, { description: string }>;
    expect(Object.keys(schema.properties).sort()).toEqual(Object.keys(documented).sort());
    for (const [name, property] of Object.entries(schema.properties)) {
      expect(property.description, name).toBe(documented[name]!.description);
    }
  });

  it("runs the nsjail README's pandas script (seeds.test.ts): the result exactly as /execute gives it, with stdout", async () => {
    const result = await callRunPython(client, { script: SEED_SCRIPT });
    expect(result.isError).toBeFalsy();
    const text = textOf(result);
    expect(text).toContain('"result":{"total":23.0,"count":5}');
    const body = JSON.parse(text) as Record<string, unknown>;
    expect(body).toMatchObject({ result: { total: 23, count: 5 }, stdout: "Calculating...\nSeries length: 6\n", stderr: "" });
    expect(body.durationMs).toEqual(expect.any(Number));
  });

  it("a failing script is a tool error with the code, the message, the output and the traceback, not a protocol error", async () => {
    const result = await callRunPython(client, { script: 'def main():\n    print("before")\n    return 1 / 0\n' });
    expect(result.isError).toBe(true);
    const body = JSON.parse(textOf(result)) as Record<string, string>;
    expect(body).toMatchObject({ code: "RUNTIME_ERROR", error: "ZeroDivisionError: division by zero", stdout: "before\n" });
    expect(body.traceback).toContain('File "script.py", line 3, in main');
  });

  it("a script with a syntax error and one over the time limit are tool errors too", async () => {
    const syntax = await callRunPython(client, { script: 'def main():\n  print("Hello")\n  x = 1 + \n  return {"ok": True}' });
    expect(syntax.isError).toBe(true);
    expect(JSON.parse(textOf(syntax))).toMatchObject({ code: "SYNTAX_ERROR", error: expect.stringMatching(/line 3\b/) });

    const slow = await callRunPython(client, { script: 'import time\ndef main():\n  print("Sleeping...")\n  time.sleep(20)\n', timeoutMs: 1000 });
    expect(slow.isError).toBe(true);
    expect(JSON.parse(textOf(slow))).toMatchObject({ code: "TIMEOUT", stdout: "Sleeping...\n" });
  });

  it("each figure comes as an image content item (a PNG of the stated size), not inside the text", async () => {
    const script = [
      "import matplotlib.pyplot as plt",
      "",
      "def main():",
      "    for n in (1, 2):",
      "        fig, ax = plt.subplots(figsize=(4, 3), dpi=50)",
      "        ax.plot(range(n + 2))",
      '    return "drawn"',
    ].join("\n");
    const result = await callRunPython(client, { script });
    expect(result.isError, textOf(result)).toBeFalsy();
    const body = JSON.parse(textOf(result)) as Record<string, unknown>;
    expect(body.result).toBe("drawn");
    expect(body).not.toHaveProperty("figures");
    const images = result.content.filter((item) => item.type === "image");
    expect(images).toHaveLength(2);
    for (const image of images) {
      if (image.type !== "image") throw new Error("not an image");
      expect(image.mimeType).toBe("image/png");
      expect(decodePng(Buffer.from(image.data, "base64"))).toMatchObject({ width: 200, height: 150 });
    }
  });

  it("a failing script's figures come along as images too", async () => {
    const script = "import matplotlib.pyplot as plt\n\ndef main():\n    plt.plot([1, 2, 3])\n    raise ValueError('after the plot')\n";
    const result = await callRunPython(client, { script });
    expect(result.isError).toBe(true);
    expect(JSON.parse(textOf(result))).toMatchObject({ code: "RUNTIME_ERROR", error: "ValueError: after the plot" });
    expect(result.content.filter((item) => item.type === "image")).toHaveLength(1);
  });

  it("args and input files go to the script, and the files it writes come back in the text", async () => {
    const script = [
      "import pandas as pd",
      "",
      "def main(column, scale=1):",
      '    df = pd.read_csv("data/in.csv")',
      "    df[column] = df[column] * scale",
      '    df.to_csv("out.csv", index=False)',
      "    return int(df[column].sum())",
    ].join("\n");
    const result = await callRunPython(client, {
      script,
      args: { column: "n", scale: 10 },
      files: [{ path: "data/in.csv", content: "n\n1\n2\n" }],
    });
    expect(result.isError, textOf(result)).toBeFalsy();
    const body = JSON.parse(textOf(result)) as { result: number; files: { path: string; content: string }[] };
    expect(body.result).toBe(30);
    expect(body.files).toEqual([expect.objectContaining({ path: "out.csv", mediaType: "text/csv", encoding: "utf-8", content: "n\n10\n20\n" })]);

    const mismatch = await callRunPython(client, { script, args: { colum: "n" } });
    expect(mismatch.isError).toBe(true);
    expect(JSON.parse(textOf(mismatch))).toMatchObject({ code: "INVALID_ARGS", error: expect.stringMatching(/colum/) });
  });

  it("arguments that do not fit the schema are a tool error naming the field; nothing runs", async () => {
    const before = sample(await served.metrics(), "pyexec_executions_total", { code: "OK" }) ?? 0;
    const result = await callRunPython(client, { script: "def main():\n    return 1\n", timeoutMs: 10 ** 9 });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/timeoutMs may be at most 30000/);
    expect(sample(await served.metrics(), "pyexec_executions_total", { code: "OK" }) ?? 0).toBe(before);
  });

  it("an unknown tool is refused", async () => {
    const result = (await client.callTool({ name: "run_ruby", arguments: { script: "puts 1" } })) as CallToolResult;
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/run_ruby not found/);
  });

  it("each tool call is an execution in the same metrics and log lines as /execute, under the MCP request's id", async () => {
    const before = sample(await served.metrics(), "pyexec_executions_total", { code: "RESULT_NOT_JSON" }) ?? 0;
    const script = "def main():\n    return {1, 2}\n";
    await callRunPython(client, { script });
    expect(sample(await served.metrics(), "pyexec_executions_total", { code: "RESULT_NOT_JSON" })).toBe(before + 1);

    const execution = served.logs.lines.find((line) => line.msg === "execution" && line.code === "RESULT_NOT_JSON");
    expect(execution).toMatchObject({ backend: "subprocess", scriptBytes: script.length, requestId: expect.any(String) });
    const request = served.logs.lines.find((line) => line.msg === "request" && line.requestId === execution!.requestId);
    expect(request).toMatchObject({ method: "POST", path: "/mcp", status: 200 });
  });

  it("is stateless: no session id, and GET (a server event stream) is 405 with Allow: POST", async () => {
    const response = await fetch(`${served.listening.url}/mcp`, { headers: { accept: "text/event-stream" } });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("POST");
    const init = await fetch(`${served.listening.url}/mcp`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "curl", version: "1" } },
      }),
    });
    expect(init.status).toBe(200);
    expect(init.headers.get("mcp-session-id")).toBeNull();
    expect(init.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await init.json()).toMatchObject({ jsonrpc: "2.0", id: 1, result: { serverInfo: { name: "python-exec-service" } } });
  });

  it("the curl request of docs/playground-and-mcp.md: one tools/call, with no session before it", async () => {
    const body = String.raw`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"run_python","arguments":{"script":"def main():\n    print(\"adding\")\n    return {\"sum\": 1 + 2}"}}}`;
    const response = await fetch(`${served.listening.url}/mcp`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
      body,
    });
    expect(response.status, await response.clone().text()).toBe(200);
    const answer = (await response.json()) as { id: number; result: CallToolResult };
    expect(answer.id).toBe(1);
    expect(answer.result.isError).toBeUndefined();
    expect(textOf(answer.result)).toMatch(
      /^\{"result":\{"sum":3\},"stdout":"adding\\n","stderr":"","stdoutTruncated":false,"stderrTruncated":false,"durationMs":\d+\}$/,
    );
  });

  it("a body that is not JSON-RPC is a JSON-RPC error, and one over the body limit is 413", async () => {
    const headers = { "content-type": "application/json", accept: "application/json, text/event-stream" };
    const garbled = await fetch(`${served.listening.url}/mcp`, { method: "POST", headers, body: "{not json" });
    expect(garbled.status).toBe(400);
    expect(await garbled.json()).toMatchObject({ jsonrpc: "2.0", error: { code: -32700 } });

    const limit = maxBodyBytes(testConfig());
    const huge = await fetch(`${served.listening.url}/mcp`, { method: "POST", headers, body: JSON.stringify({ pad: "x".repeat(limit) }) });
    expect(huge.status).toBe(413);
    expect(await huge.json()).toMatchObject({ code: "PAYLOAD_TOO_LARGE" });
  });
});

describe("MCP endpoint, auth on", () => {
  let served: Served;

  beforeAll(async () => {
    served = await serveApp({ API_KEYS: KEY });
  });
  afterAll(async () => {
    await served?.listening.close();
    await served?.sandbox.close();
  });

  it("without a key, or with a wrong one, the client is refused with 401 before anything runs", async () => {
    for (const headers of [{}, { authorization: "Bearer not-the-key" }] as Record<string, string>[]) {
      const refused = await connect(served.listening.url, headers).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(refused).toBeInstanceOf(StreamableHTTPError);
      expect((refused as StreamableHTTPError).code).toBe(401);
    }
    expect(served.logs.lines.filter((line) => line.msg === "unauthorized request" && line.path === "/mcp")).toHaveLength(2);
    expect(served.logs.lines.some((line) => line.msg === "execution")).toBe(false);
  });

  it("with a key, the tool runs", async () => {
    const client = await connect(served.listening.url, { authorization: `Bearer ${KEY}` });
    try {
      const result = await callRunPython(client, { script: 'def main():\n    return {"sum": 1 + 2}\n' });
      expect(result.isError).toBeFalsy();
      expect(JSON.parse(textOf(result))).toMatchObject({ result: { sum: 3 } });
    } finally {
      await client.close();
    }
  });
});
