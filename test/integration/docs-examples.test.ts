/**
 * The curl examples of the documentation, run as written against a real server listening on
 * loopback, on both backends. An example is a ```sh block holding one curl command followed by
 * a line `# HTTP <status> <json>`: the answer must have that status and contain that JSON (each
 * object's listed members, each array element by element).
 */

import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { type ServerType, serve } from "@hono/node-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { projectRoot } from "../../src/project-paths.js";
import { backends, closeSandboxes, realApp } from "../support/backends.js";

const DOCUMENTS = ["README.md", "docs/api.md", "docs/data-in-and-out.md"];
const DOCUMENTED_URL = "http://localhost:8080";

interface Example {
  readonly document: string;
  readonly command: string;
  readonly status: number;
  readonly expected: unknown;
}

function examplesOf(document: string): Example[] {
  const text = readFileSync(join(projectRoot(), document), "utf8");
  const examples: Example[] = [];
  for (const [, block = ""] of text.matchAll(/```sh\n([\s\S]*?)```/g)) {
    const outcome = /^# HTTP (\d{3}) (.*)$/m.exec(block);
    if (!outcome) continue;
    const command = block.slice(0, outcome.index).trim();
    examples.push({ document, command, status: Number(outcome[1]), expected: JSON.parse(outcome[2]!) });
  }
  return examples;
}

const EXAMPLES = DOCUMENTS.flatMap(examplesOf);

it("the documentation has its examples", () => {
  expect(EXAMPLES.filter((example) => example.document === "docs/data-in-and-out.md").length).toBeGreaterThanOrEqual(7);
  for (const example of EXAMPLES) {
    expect(example.command, example.document).toMatch(/^curl /);
    expect(example.command).toContain(DOCUMENTED_URL);
  }
});

const run = promisify(execFile);

describe.each(await backends("subprocess", "nsjail", "nsjail zygote"))("$name", (backend) => {
  let server: ServerType;
  let url: string;
  beforeAll(async () => {
    const app = await realApp({}, backend);
    if (!("fetch" in app)) throw new Error("a pool-less app serves fetch");
    server = await new Promise<ServerType>((resolve) => {
      const started = serve({ fetch: app.fetch as (request: Request) => Promise<Response>, port: 0, hostname: "127.0.0.1" }, () => resolve(started));
    });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await closeSandboxes();
  });

  const named = EXAMPLES.map((example, index) => [`${example.document}, example ${index + 1} (HTTP ${example.status})`, example] as const);
  it.each(named)("%s", async (_name, example) => {
    // As written, with the server's real address, and curl telling the status after the body.
    const command = `${example.command.replaceAll(DOCUMENTED_URL, url)} -w '\\n%{http_code}'`;
    const { stdout } = await run("bash", ["-c", command], { maxBuffer: 64 * 1024 * 1024 });
    const newline = stdout.lastIndexOf("\n");
    const body = JSON.parse(stdout.slice(0, newline)) as unknown;
    expect(Number(stdout.slice(newline + 1)), stdout.slice(0, 2000)).toBe(example.status);
    expect(body).toMatchObject(example.expected as Record<string, unknown>);
  });
});
