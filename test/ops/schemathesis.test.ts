import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import { afterAll, beforeAll, expect, test } from "vitest";
import { composeApp } from "../../src/compose.js";
import { projectRoot } from "../../src/project-paths.js";
import { realSubprocessSandbox, silentLogger, testConfig } from "../support/real-app.js";

/*
 * Contract fuzzing: schemathesis (pinned in requirements-test.txt, installed into .venv-test
 * by scripts/setup-test.sh) reads /openapi.json from a live server on loopback and sends
 * examples, boundary cases and random requests to every operation, with auth on.
 *
 * Checks: all of schemathesis's, except
 * - positive_data_acceptance: a schema-valid request may still fail by design (a script with
 *   a syntax error is a 400, one that runs too long a 408), so "valid body => 2xx" is not our contract;
 * - ensure_resource_availability (ST302, "a resource just created is 404"): a POST /sessions sent
 *   with an Idempotency-Key the fuzzer sent before gets the first answer, by design (docs/api.md),
 *   and so the id of a session the fuzzer may have deleted since. test/integration/sessions.test.ts
 *   checks that a session is there once created, on every backend;
 * What remains includes not_a_server_error (no 5xx), response_schema_conformance,
 * status_code_conformance, content_type_conformance, response_headers_conformance,
 * negative_data_rejection (invalid bodies get a 4xx) and ignored_auth (the documented
 * bearer scheme is enforced).
 */

const KEY = "schemathesis-fuzz-key";
const SCHEMATHESIS = join(projectRoot(), ".venv-test", "bin", "schemathesis");
const MAX_EXAMPLES = 30;

let server: Server;
let baseUrl: string;
let workDir: string;

beforeAll(async () => {
  // short limits so that whatever the fuzzer sends finishes fast
  const config = testConfig({ API_KEYS: KEY, EXECUTION_TIMEOUT_MS: "2000", MEMORY_LIMIT_MB: "256", MAX_CONCURRENCY: "2", POOL_SIZE: "0" });
  const { app } = await composeApp(config, realSubprocessSandbox(config), { python: "3", packages: {} }, silentLogger);
  server = await new Promise<Server>((resolve) => {
    const started = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(started as Server));
  });
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  workDir = await mkdtemp(join(tmpdir(), "schemathesis-"));
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

function run(command: string, args: string[], cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: cwd, LANG: "C.UTF-8", NO_COLOR: "1" } });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, output }));
  });
}

test("schemathesis finds no failure in /openapi.json: no 5xx, every response as documented, auth enforced", async () => {
  expect(existsSync(SCHEMATHESIS), `${SCHEMATHESIS} is missing: run scripts/setup-test.sh`).toBe(true);
  const { code, output } = await run(
    SCHEMATHESIS,
    [
      "run",
      `${baseUrl}/openapi.json`,
      "--checks",
      "all",
      "--exclude-checks",
      "positive_data_acceptance,ensure_resource_availability",
      "--max-examples",
      String(MAX_EXAMPLES),
      "--request-timeout",
      "15",
      "--header",
      `Authorization: Bearer ${KEY}`,
      "--workers",
      "1",
      "--seed",
      "20261121",
      "--generation-database",
      "none",
      "--no-color",
    ],
    workDir,
  );
  expect(code, output).toBe(0);
  // POST /execute, GET /health, GET /metrics, and the four session operations.
  expect(output).toMatch(/Tested: 7\b/);
  expect(output).not.toMatch(/\d+ failures?\b/);
  expect(output).toMatch(/\d+ generated, \d+ passed/);
}, 300_000);
