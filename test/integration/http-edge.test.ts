/**
 * The codes a request produces at the HTTP edge (400 INVALID_REQUEST, 415, 413, 429 BUSY),
 * on the real app composed around the real subprocess sandbox.
 */
import { rm, writeFile } from "node:fs/promises";
import { beforeAll, describe, expect, it } from "vitest";
import { SubprocessSandbox } from "../../adapters/subprocess/subprocess-sandbox.js";
import { composeApp } from "../../src/compose.js";
import { maxBodyBytes } from "../../src/http/execute.js";
import { artifactLimitsOf } from "../../src/sandbox-factory.js";
import { realApp } from "../support/backends.js";
import { appOver, realSubprocessSandbox, runtime, silentLogger, testConfig } from "../support/real-app.js";
import { type App, execute, expectStatus, postRaw, py, uniqueMarker } from "../support/requests.js";

const QUICK = "def main():\n    return 'quick'\n";

let app: App;
beforeAll(async () => {
  app = await realApp({ EXECUTION_TIMEOUT_MS: "5000", MEMORY_LIMIT_MB: "512", MAX_SCRIPT_BYTES: "1000" });
});

/** A valid script of exactly `bytes` UTF-8 bytes. */
function scriptOfBytes(bytes: number, filler = "#"): string {
  const base = "def main():\n    return 'sized'\n";
  const fillerBytes = Buffer.byteLength(filler);
  const count = Math.floor((bytes - base.length) / fillerBytes);
  const script = base + filler.repeat(count) + "#".repeat(bytes - base.length - count * fillerBytes);
  expect(Buffer.byteLength(script)).toBe(bytes);
  return script;
}

describe("INVALID_REQUEST (400)", () => {
  it.each([
    ["a body that is not JSON", "{not json", /JSON/],
    ["an empty body", "", /JSON/],
    ["a JSON array", "[]", /./],
    ["JSON null", "null", /./],
    ["no script", "{}", /script/],
    ["a script that is a number", '{"script": 42}', /script/],
    ["a script that is null", '{"script": null}', /script/],
    ["an empty script", '{"script": ""}', /script must not be empty/],
    ["timeoutMs over the configured maximum", `{"script": ${JSON.stringify(QUICK)}, "timeoutMs": 5001}`, /timeoutMs.*5000/],
    ["timeoutMs of zero", `{"script": ${JSON.stringify(QUICK)}, "timeoutMs": 0}`, /timeoutMs/],
    ["a negative timeoutMs", `{"script": ${JSON.stringify(QUICK)}, "timeoutMs": -1}`, /timeoutMs/],
    ["a fractional timeoutMs", `{"script": ${JSON.stringify(QUICK)}, "timeoutMs": 1.5}`, /timeoutMs/],
    ["timeoutMs as a string", `{"script": ${JSON.stringify(QUICK)}, "timeoutMs": "1000"}`, /timeoutMs/],
    ["memoryMb over the configured maximum", `{"script": ${JSON.stringify(QUICK)}, "memoryMb": 513}`, /memoryMb.*512/],
    ["memoryMb of zero", `{"script": ${JSON.stringify(QUICK)}, "memoryMb": 0}`, /memoryMb/],
    ["memoryMb too small to start an interpreter", `{"script": ${JSON.stringify(QUICK)}, "memoryMb": 1}`, /memoryMb must be at least 32/],
  ])("%s", async (_name, body, message) => {
    const res = await postRaw(app, body);
    expectStatus(res, 400);
    expect(res.body.code).toBe("INVALID_REQUEST");
    expect(res.body.error).toMatch(message);
    expect(res.body).toMatchObject({ stdout: "", stderr: "" });
  });

  it("the configured maxima themselves are accepted", async () => {
    const res = await execute(app, QUICK, { timeoutMs: 5000, memoryMb: 512 });
    expectStatus(res, 200);
    expect(res.body.result).toBe("quick");
  });
});

describe("UNSUPPORTED_MEDIA_TYPE (415)", () => {
  const body = JSON.stringify({ script: QUICK });

  it.each([
    ["text/plain", "text/plain"],
    ["form encoding", "application/x-www-form-urlencoded"],
    ["no content type at all", null],
  ])("%s", async (_name, contentType) => {
    const res = await postRaw(app, body, contentType);
    expectStatus(res, 415);
    expect(res.body.code).toBe("UNSUPPORTED_MEDIA_TYPE");
    expect(res.body.error).toMatch(/application\/json/);
  });

  it.each(["application/json; charset=utf-8", "Application/JSON"])("%s is JSON", async (contentType) => {
    const res = await postRaw(app, body, contentType);
    expectStatus(res, 200);
    expect(res.body.result).toBe("quick");
  });
});

describe("PAYLOAD_TOO_LARGE (413)", () => {
  it("a script of exactly MAX_SCRIPT_BYTES runs", async () => {
    const res = await execute(app, scriptOfBytes(1000));
    expectStatus(res, 200);
    expect(res.body.result).toBe("sized");
  });

  it("a script one byte over MAX_SCRIPT_BYTES is refused, naming both sizes", async () => {
    const res = await execute(app, scriptOfBytes(1001));
    expectStatus(res, 413);
    expect(res.body.code).toBe("PAYLOAD_TOO_LARGE");
    expect(res.body.error).toContain("1001 bytes");
    expect(res.body.error).toContain("1000 bytes");
  });

  it("the script limit counts UTF-8 bytes, not characters", async () => {
    const script = scriptOfBytes(1002, "é");
    expect(script.length).toBeLessThan(1000);
    const res = await execute(app, script);
    expectStatus(res, 413);
    expect(res.body.code).toBe("PAYLOAD_TOO_LARGE");
  });

  it("a body over the limit is refused even though its script is small", async () => {
    const limit = maxBodyBytes(testConfig({ MAX_SCRIPT_BYTES: "1000" }));
    const res = await execute(app, QUICK, { padding: "x".repeat(limit) });
    expectStatus(res, 413);
    expect(res.body.code).toBe("PAYLOAD_TOO_LARGE");
    expect(res.body.error).toContain(String(limit));
  });

  it("the body limit is checked before parsing: an oversized body that is not JSON is 413, not 400", async () => {
    const res = await postRaw(app, "{".repeat(maxBodyBytes(testConfig({ MAX_SCRIPT_BYTES: "1000" })) + 1));
    expectStatus(res, 413);
    expect(res.body.code).toBe("PAYLOAD_TOO_LARGE");
  });
});

describe("BUSY (429)", () => {
  /** A script that runs until the test creates `go`, so "still running" needs no timing. */
  const slowScript = (go: string) => py`
    import os
    import time

    def main():
        deadline = time.monotonic() + 20
        while not os.path.exists("${go}") and time.monotonic() < deadline:
            time.sleep(0.02)
        return "slow done"
  `;

  async function gatedApp(env: Record<string, string>) {
    const config = testConfig({ EXECUTION_TIMEOUT_MS: "30000", ...env });
    return composeApp(config, realSubprocessSandbox(config), { python: "test", packages: {} }, silentLogger);
  }

  async function until(condition: () => boolean): Promise<void> {
    for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(condition()).toBe(true);
  }

  it("MAX_CONCURRENCY=1, MAX_QUEUE=0: a second request while one runs gets 429 with Retry-After", async () => {
    const { app: busyApp, gate } = await gatedApp({ MAX_CONCURRENCY: "1", MAX_QUEUE: "0" });
    const go = `/tmp/go-${uniqueMarker()}`;
    try {
      const slow = execute(busyApp, slowScript(go));
      await until(() => gate.running === 1);

      const refused = await execute(busyApp, QUICK);
      expectStatus(refused, 429);
      expect(refused.body.code).toBe("BUSY");
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(refused.body).toMatchObject({ stdout: "", stderr: "" });

      await writeFile(go, "");
      const first = await slow;
      expectStatus(first, 200);
      expect(first.body.result).toBe("slow done");

      const after = await execute(busyApp, QUICK);
      expectStatus(after, 200);
      expect(after.body.result).toBe("quick");
    } finally {
      await rm(go, { force: true });
    }
  });

  it("MAX_QUEUE=1: one request waits its turn and runs; the next one is refused", async () => {
    const { app: busyApp, gate } = await gatedApp({ MAX_CONCURRENCY: "1", MAX_QUEUE: "1" });
    const go = `/tmp/go-${uniqueMarker()}`;
    try {
      const slow = execute(busyApp, slowScript(go));
      await until(() => gate.running === 1);
      const queued = execute(busyApp, QUICK);
      await until(() => gate.queued === 1);

      const refused = await execute(busyApp, QUICK);
      expectStatus(refused, 429);
      expect(refused.body.code).toBe("BUSY");
      expect(refused.headers.get("retry-after")).toMatch(/^\d+$/);

      await writeFile(go, "");
      expectStatus(await slow, 200);
      const waited = await queued;
      expectStatus(waited, 200);
      expect(waited.body.result).toBe("quick");
    } finally {
      await rm(go, { force: true });
    }
  });
});

describe("SANDBOX_UNAVAILABLE (503)", () => {
  it("a backend that cannot start its interpreter answers 503 without the details", async () => {
    const config = testConfig();
    const missing = "/nonexistent-python-for-test/bin/python";
    const broken = new SubprocessSandbox({
      runtime: { ...runtime(), pythonBin: missing, venvDir: "/nonexistent-python-for-test" },
      maxOutputBytes: config.maxOutputBytes,
      maxResultBytes: config.maxResultBytes,
      artifactLimits: artifactLimitsOf(config),
      preloadModules: config.preloadModules,
      memoryLimitMb: config.memoryLimitMb,
      dedicatedUids: process.getuid?.() === 0,
      uidBase: config.sandboxUidBase,
      serverEnv: {},
      endGraceMs: config.endGraceMs,
    });
    const res = await execute(await appOver(broken, config), QUICK);
    expectStatus(res, 503);
    expect(res.body.code).toBe("SANDBOX_UNAVAILABLE");
    expect(res.text).not.toContain(missing);
  });
});

describe("GET /health", () => {
  it("names the live backend", async () => {
    const response = await app.request("/health");
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: "ok", backend: "subprocess" });
  });
});
