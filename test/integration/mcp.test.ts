/**
 * The MCP endpoint driven by the official MCP client (Streamable HTTP) over real HTTP, against
 * the real app over the real subprocess sandbox and harness.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport, StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_RESULT_REPR_CHARS } from "../../adapters/python/protocol-facts.js";
import { maxBodyBytes } from "../../src/http/execute.js";
import { backends, closeSandboxes, realApp } from "../support/backends.js";
import { sample } from "../support/observing.js";
import { decodePng } from "../support/png.js";
import { type Served, serveApp, testConfig } from "../support/real-app.js";
import { type App, execute, expectStatus } from "../support/requests.js";

/** The pandas script of seeds.test.ts's "an nsjail README" example, as that README sends it. */
const SEED_SCRIPT =
  'import numpy as np\nimport pandas as pd\n\ndef main():\n    print("Calculating...")\n    s = pd.Series([1, 3, 5, np.nan, 6, 8])\n    print(f"Series length: {len(s)}")\n    # Convert numpy types for JSON\n    return {"total": float(s.sum()), "count": int(s.count()) }';

const KEY = "mcp-test-key-0123456789";

async function connect(url: string, headers: Record<string, string> = {}): Promise<Client> {
  const client = new Client({ name: "mcp-test", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL("/mcp", url), { requestInit: { headers } }));
  return client;
}

/** The client over an app's request() instead of a socket. */
async function connectTo(app: App): Promise<Client> {
  const client = new Client({ name: "mcp-test", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL("http://localhost/mcp"), { fetch: async (url, init) => app.request(String(url), init) }));
  return client;
}

/** Words of the HTTP edge that mean nothing to an agent calling a tool. */
const HTTP_WORDS = /\b(HTTP|POST|GET|request body|status code|(a|an|is|with) [45]\d\d)\b/;

/** The pandas DataFrame of the repr tests, and the repr() pandas gives it. */
const DATAFRAME_CELL = "import pandas as pd\ndf = pd.DataFrame({'a': [1, 2], 'b': [3.5, 4.5]})\ndf";
const DATAFRAME_REPR = "   a    b\n0  1  3.5\n1  2  4.5";

const textOf = (result: CallToolResult): string => {
  const text = result.content.find((item) => item.type === "text");
  if (text?.type !== "text") throw new Error(`no text content in ${JSON.stringify(result)}`);
  return text.text;
};

const callRunPython = async (client: Client, args: Record<string, unknown>) =>
  (await client.callTool({ name: "run_python", arguments: args })) as CallToolResult;

/** A failed call's text: the error body with what to fix. */
const failureOf = (result: CallToolResult) => {
  expect(result.isError, textOf(result)).toBe(true);
  return JSON.parse(textOf(result)) as Record<string, string>;
};

describe("MCP endpoint, auth off", () => {
  let served: Served;
  let client: Client;

  beforeAll(async () => {
    served = await serveApp();
    client = await connect(served.listening.url);
  });
  afterAll(async () => {
    await client?.close();
    await served?.close();
  });

  it("initializes: the server names itself and offers tools, whose list never changes", () => {
    expect(client.getServerVersion()).toMatchObject({ name: "python-exec-service", version: expect.any(String) });
    expect(client.getServerCapabilities()?.tools).toEqual({ listChanged: false });
  });

  it("lists run_python, whose input schema is the /execute request with the server's limits (and a session's id), then the session tools", async () => {
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name)).toEqual(["run_python", "start_session", "end_session"]);
    const [tool] = tools;
    expect(tool!.description).toMatch(/main\(\)/);
    const schema = tool!.inputSchema as { properties: Record<string, Record<string, unknown>>; required: string[] };
    expect(schema.required).toEqual(["script"]);
    expect(schema.properties.script).toMatchObject({ type: "string", minLength: 1, description: expect.stringMatching(/notebook cell/) });
    const config = testConfig();
    expect(schema.properties.timeoutMs).toMatchObject({ type: "integer", maximum: config.executionTimeoutMs });
    expect(schema.properties.memoryMb).toMatchObject({ type: "integer", maximum: config.memoryLimitMb });
    // Every other field carries its description to the model, as in the OpenAPI document; the
    // script's differs, since the tool runs a cell too.
    const doc = (await (await fetch(`${served.listening.url}/openapi.json`)).json()) as any;
    const documented = doc.components.schemas.ExecuteRequest.properties as Record<string, { description: string }>;
    expect(Object.keys(schema.properties).sort()).toEqual([...Object.keys(documented), "sessionId"].sort());
    for (const [name, property] of Object.entries(schema.properties)) {
      if (name !== "script" && name !== "sessionId") expect(property.description, name).toBe(documented[name]!.description);
    }
  });

  it("declares its output schema: the result with its kind, the output and the files, in words an agent reads without HTTP", async () => {
    const [tool] = (await client.listTools()).tools;
    expect(tool!.description).toMatch(/notebook cell/);
    expect(tool!.description).toContain(`cut at ${MAX_RESULT_REPR_CHARS} characters`);
    expect(tool!.description).not.toMatch(HTTP_WORDS);
    expect(tool!.description).not.toMatch(/MAIN_NOT_FOUND/);
    const output = tool!.outputSchema as { properties: Record<string, { description?: string; enum?: string[] }>; required: string[] };
    expect(Object.keys(output.properties).sort()).toEqual(
      ["durationMs", "files", "filesTruncated", "result", "resultKind", "stderr", "stderrTruncated", "stdout", "stdoutTruncated"].sort(),
    );
    expect(output.required).toEqual(expect.arrayContaining(["result", "resultKind", "stdout", "stderr", "durationMs"]));
    expect(output.properties.resultKind!.enum).toEqual(["json", "repr"]);
    const input = tool!.inputSchema as { properties: Record<string, { description?: string }> };
    for (const [name, description] of [
      ["result", output.properties.result!.description],
      ["resultKind", output.properties.resultKind!.description],
      ["script", input.properties.script!.description],
    ]) {
      expect(description, name).toEqual(expect.any(String));
      expect(description, name).not.toMatch(HTTP_WORDS);
    }
    for (const [name, property] of Object.entries({ ...input.properties, ...output.properties })) {
      expect(property.description ?? "", name).not.toMatch(HTTP_WORDS);
    }
  });

  it("runs a cell: the value of its last expression is the result, in structuredContent and in the text", async () => {
    const result = await callRunPython(client, { script: "x = 2\nx * 21" });
    expect(result.isError, textOf(result)).toBeFalsy();
    expect(result.structuredContent).toMatchObject({ result: 42, resultKind: "json", stdout: "", stderr: "", durationMs: expect.any(Number) });
    expect(JSON.parse(textOf(result))).toEqual(result.structuredContent);

    const silent = await callRunPython(client, { script: 'print("assigned")\nx = 2 * 21' });
    expect(silent.structuredContent).toMatchObject({ result: null, resultKind: "json", stdout: "assigned\n" });
  });

  it("a cell whose value is not JSON (a DataFrame) comes back as its repr, flagged so", async () => {
    const result = await callRunPython(client, { script: DATAFRAME_CELL });
    expect(result.isError, textOf(result)).toBeFalsy();
    expect(result.structuredContent).toMatchObject({ result: DATAFRAME_REPR, resultKind: "repr" });
    expect(JSON.parse(textOf(result))).toMatchObject({ result: DATAFRAME_REPR, resultKind: "repr" });
  });

  it("a cell's figures come as images and its files in the result, as a main()'s do", async () => {
    const script = "import matplotlib.pyplot as plt\nplt.figure(figsize=(4, 3), dpi=50)\nplt.plot([1, 2, 3]);\nopen('out.txt', 'w').write('hi');";
    const result = await callRunPython(client, { script });
    expect(result.isError, textOf(result)).toBeFalsy();
    expect(result.structuredContent).toMatchObject({ result: null, files: [expect.objectContaining({ path: "out.txt", content: "hi" })] });
    expect(result.structuredContent).not.toHaveProperty("figures");
    expect(result.content.filter((item) => item.type === "image")).toHaveLength(1);
  });

  it("a script with main() is run as before: main()'s value is the result, even after a last expression", async () => {
    const result = await callRunPython(client, { script: 'def main(n=1):\n    return {"n": n}\n\n"a last expression"', args: { n: 2 } });
    expect(result.structuredContent).toMatchObject({ result: { n: 2 }, resultKind: "json" });
  });

  it("a failing cell's text says what to fix and where, beside the code, message and traceback", async () => {
    const syntax = failureOf(await callRunPython(client, { script: "x = 1\ny = (x +\n" }));
    expect(syntax).toMatchObject({ code: "SYNTAX_ERROR", error: expect.stringMatching(/line 2\b/), traceback: expect.any(String) });
    expect(syntax.fix).toBe('Fix the syntax at line 2: "y = (x +".');

    const raised = failureOf(await callRunPython(client, { script: "import math\ndef f(x):\n    return math.sqrt(x)\n\nf(-1)" }));
    expect(raised).toMatchObject({ code: "RUNTIME_ERROR", error: "ValueError: math domain error" });
    expect(raised.traceback).toContain('File "script.py", line 5, in <module>');
    expect(raised.fix).toMatch(/^The error comes from line 3: "return math.sqrt\(x\)"/);

    const notJson = failureOf(await callRunPython(client, { script: "def main():\n    return {1, 2}\n" }));
    expect(notJson.code).toBe("RESULT_NOT_JSON");
    expect(notJson.fix).toMatch(/leave main\(\) out .* repr\(\)/);

    const orphanArgs = failureOf(await callRunPython(client, { script: "1 + 1", args: { n: 1 } }));
    expect(orphanArgs).toMatchObject({ code: "INVALID_ARGS", error: "args are main()'s keyword arguments, and the script defines no main()" });
    expect(orphanArgs.fix).toMatch(/leave args out/);
  });

  it("POST /execute keeps its contract: the same cell, without a main(), is MAIN_NOT_FOUND", async () => {
    const res = await execute({ request: (path, init) => fetch(`${served.listening.url}${path}`, init) }, 'print("ran")\nx = 2\nx * 21');
    expectStatus(res, 400);
    expect(res.body).toMatchObject({ code: "MAIN_NOT_FOUND", error: "No callable main() found in script", stdout: "ran\n" });
  });

  it("runs the nsjail README's pandas script (seeds.test.ts): the result exactly as /execute gives it, with stdout", async () => {
    const result = await callRunPython(client, { script: SEED_SCRIPT });
    expect(result.isError).toBeFalsy();
    const text = textOf(result);
    expect(text).toContain('"result":{"total":23.0,"count":5}');
    const body = JSON.parse(text) as Record<string, unknown>;
    expect(body).toMatchObject({ result: { total: 23, count: 5 }, resultKind: "json", stdout: "Calculating...\nSeries length: 6\n", stderr: "" });
    expect(body.durationMs).toEqual(expect.any(Number));
    expect(result.structuredContent).toEqual(body);
  });

  it("a failing script is a tool error with the code, the message, the output and the traceback, not a protocol error", async () => {
    const result = await callRunPython(client, { script: 'def main():\n    print("before")\n    return 1 / 0\n' });
    expect(result.isError).toBe(true);
    expect(result).not.toHaveProperty("structuredContent");
    const body = JSON.parse(textOf(result)) as Record<string, string>;
    expect(body).toMatchObject({ code: "RUNTIME_ERROR", error: "ZeroDivisionError: division by zero", stdout: "before\n" });
    expect(body.traceback).toContain('File "script.py", line 3, in main');
    expect(body.fix).toMatch(/^The error comes from line 3: "return 1 \/ 0"/);
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
    expect(textOf(result)).toMatch(/timeoutMs must be at most 30000/);
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
      /^\{"result":\{"sum":3\},"resultKind":"json","stdout":"adding\\n","stderr":"","stdoutTruncated":false,"stderrTruncated":false,"durationMs":\d+\}$/,
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
    await served?.close();
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

describe.each(await backends("nsjail zygote"))("MCP endpoint over $name", (backend) => {
  let client: Client;
  beforeAll(async () => {
    client = await connectTo(await realApp({}, backend));
  });
  afterAll(async () => {
    await client?.close();
    await closeSandboxes();
  });

  it("a cell's value, and its repr when it is not JSON, come back from the jail", async () => {
    expect((await callRunPython(client, { script: "x = 2\nx * 21" })).structuredContent).toMatchObject({ result: 42, resultKind: "json" });
    expect((await callRunPython(client, { script: DATAFRAME_CELL })).structuredContent).toMatchObject({ result: DATAFRAME_REPR, resultKind: "repr" });
  });
});
