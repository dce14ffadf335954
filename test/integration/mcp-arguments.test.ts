/**
 * run_python's arguments as the official MCP client meets them (Streamable HTTP, real HTTP, the
 * real app): the tool's JSON Schema admits no field but its own, and a call with another one is
 * refused, naming it and the field it most likely meant, with nothing run.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Served, serveApp } from "../support/real-app.js";

const SCRIPT = "def main():\n    return 1\n";

const textOf = (result: CallToolResult): string => result.content.map((item) => (item.type === "text" ? item.text : "")).join("\n");

describe("run_python's arguments", () => {
  let served: Served;
  let client: Client;

  beforeAll(async () => {
    served = await serveApp();
    client = new Client({ name: "mcp-arguments-test", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL("/mcp", served.listening.url)));
  });
  afterAll(async () => {
    await client?.close();
    await served?.close();
  });

  const call = async (args: Record<string, unknown>) => (await client.callTool({ name: "run_python", arguments: args })) as CallToolResult;
  const executions = () => served.logs.lines.filter((line) => line.msg === "execution").length;

  it("tools/list: the input schema, and each of its files, admits no other field (additionalProperties false)", async () => {
    const { tools } = await client.listTools();
    const tool = tools.find((listed) => listed.name === "run_python");
    const schema = tool?.inputSchema as { additionalProperties?: unknown; properties: { files: { items: { additionalProperties?: unknown } } } } | undefined;
    expect(schema?.additionalProperties).toBe(false);
    expect(schema?.properties.files.items.additionalProperties).toBe(false);
  });

  it.each<[string, Record<string, unknown>, string[]]>([
    ["a field close to a known one", { script: SCRIPT, timeout: 5 }, ["unknown field `timeout`; did you mean `timeoutMs`?"]],
    ["a typo of args", { script: SCRIPT, arg: { name: "Ada" } }, ["unknown field `arg`; did you mean `args`?"]],
    ["code instead of script", { code: SCRIPT }, ["script is required", "unknown field `code`; the script goes in `script`"]],
    ["a field in a file", { script: SCRIPT, files: [{ path: "a.txt", contents: "x" }] }, ["unknown field `files[0].contents`; did you mean `content`?"]],
  ])("a call with %s is a tool error naming it and the field meant; nothing runs", async (_name, args, sentences) => {
    const before = executions();
    const result = await call(args);
    expect(result.isError).toBe(true);
    for (const sentence of sentences) expect(textOf(result)).toContain(sentence);
    expect(executions()).toBe(before);
  });

  it("the same arguments without the unknown field run", async () => {
    const result = await call({ script: SCRIPT, timeoutMs: 5000 });
    expect(result.isError, textOf(result)).toBeFalsy();
  });
});
