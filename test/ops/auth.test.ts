import { beforeAll, describe, expect, test } from "vitest";
import { composeApp } from "../../src/compose.js";
import { ConfigError, loadConfig } from "../../src/config.js";
import { type appOver, realSubprocessSandbox, silentLogger, testConfig } from "../support/real-app.js";
import { capturingLogger, sample } from "./support.js";

const KEYS = ["key-one-0123456789", "key-two-abcdefghij"];
const SCRIPT = 'def main():\n    return {"sum": 1 + 2}\n';
type App = Awaited<ReturnType<typeof appOver>>;

const post = (app: App, headers: Record<string, string> = {}, body: string = JSON.stringify({ script: SCRIPT })) =>
  app.request("/execute", { method: "POST", headers: { "content-type": "application/json", ...headers }, body });

async function expectUnauthorized(response: Response, challenge: RegExp = /^Bearer\b/) {
  expect(response.status).toBe(401);
  expect(response.headers.get("www-authenticate")).toMatch(challenge);
  expect(response.headers.get("content-type")).toMatch(/^application\/json/);
  expect(response.headers.get("x-request-id")).toBeTruthy();
  const body = (await response.json()) as Record<string, unknown>;
  expect(body).toMatchObject({ code: "UNAUTHORIZED", stdout: "", stderr: "" });
  expect(body.error).toMatch(/Authorization: Bearer/);
  // the key itself never comes back
  for (const key of KEYS) expect(JSON.stringify(body)).not.toContain(key);
}

describe("API_KEYS configuration", () => {
  test("unset or empty means auth off", () => {
    expect(loadConfig({}).apiKeys).toEqual([]);
    expect(loadConfig({ API_KEYS: "  " }).apiKeys).toEqual([]);
  });

  test("comma-separated, trimmed, empty entries dropped", () => {
    expect(loadConfig({ API_KEYS: " a1 ,b2,, c3 " }).apiKeys).toEqual(["a1", "b2", "c3"]);
  });

  test("commas only, or a key with a space or control character, stop startup naming API_KEYS and not the key", () => {
    for (const value of [",", " , ,", "good,has space", "tab\tkey", "naïve"]) {
      let error: unknown;
      try {
        loadConfig({ API_KEYS: value });
      } catch (caught) {
        error = caught;
      }
      expect(error, value).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).variable).toBe("API_KEYS");
      expect((error as ConfigError).message).not.toContain("naïve");
      expect((error as ConfigError).message).not.toContain("good");
    }
  });

  test("SHUTDOWN_GRACE_MS defaults to 10 s and is validated", () => {
    expect(loadConfig({}).shutdownGraceMs).toBe(10_000);
    expect(loadConfig({ SHUTDOWN_GRACE_MS: "0" }).shutdownGraceMs).toBe(0);
    expect(() => loadConfig({ SHUTDOWN_GRACE_MS: "soon" })).toThrow(/SHUTDOWN_GRACE_MS/);
  });
});

describe("with API_KEYS set", () => {
  const config = testConfig({ API_KEYS: KEYS.join(",") });
  let app: App;
  let metricsText: () => Promise<string>;
  beforeAll(async () => {
    const composed = await composeApp(config, realSubprocessSandbox(config), { python: "test", packages: {} }, silentLogger);
    app = composed.app;
    metricsText = () => composed.metrics.render();
  });

  test("no Authorization header: 401 UNAUTHORIZED with the JSON error body and a Bearer challenge", async () => {
    await expectUnauthorized(await post(app), /^Bearer realm="python-exec"$/);
  });

  test("a wrong key, a prefix of a key, a key plus a character, a key in another case: 401 invalid_token", async () => {
    for (const token of ["wrong", KEYS[0]!.slice(0, -1), `${KEYS[0]}x`, KEYS[0]!.toUpperCase()]) {
      await expectUnauthorized(await post(app, { authorization: `Bearer ${token}` }), /error="invalid_token"/);
    }
  });

  test("another scheme, or Bearer with no token, is no credential", async () => {
    for (const header of [`Basic ${Buffer.from(`user:${KEYS[0]}`).toString("base64")}`, KEYS[0]!, "Bearer", "Bearer ", `Token ${KEYS[0]}`]) {
      await expectUnauthorized(await post(app, { authorization: header }));
    }
  });

  test("auth comes before everything else: no body is parsed or size-checked for an unauthenticated caller", async () => {
    await expectUnauthorized(await post(app, { "content-type": "text/plain" }, "not json"));
    await expectUnauthorized(await post(app, {}, "{ broken json"));
    await expectUnauthorized(await post(app, {}, JSON.stringify({ script: "x".repeat(2 * config.maxScriptBytes + 100_000) })));
  });

  test("every configured key works, and the scheme name is case-insensitive", async () => {
    for (const authorization of [`Bearer ${KEYS[0]}`, `Bearer ${KEYS[1]}`, `bearer ${KEYS[1]}`, `BEARER  ${KEYS[0]}`]) {
      const response = await post(app, { authorization });
      expect(response.status, authorization).toBe(200);
      expect(await response.json()).toMatchObject({ result: { sum: 3 } });
    }
  });

  test("a refused request runs no script: it is not counted as an execution", async () => {
    const before = sample(await metricsText(), "pyexec_executions_total", { code: "UNAUTHORIZED" });
    await post(app, { authorization: "Bearer nope" });
    expect(sample(await metricsText(), "pyexec_executions_total", { code: "UNAUTHORIZED" })).toBe(before);
  });

  test("/metrics needs the key too", async () => {
    await expectUnauthorized(await app.request("/metrics"));
    await expectUnauthorized(await app.request("/metrics", { headers: { authorization: "Bearer wrong" } }), /invalid_token/);
    const response = await app.request("/metrics", { headers: { authorization: `Bearer ${KEYS[1]}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  });

  test("/health, /openapi.json and /docs stay open (probes, and the page where a user enters the key)", async () => {
    for (const path of ["/health", "/openapi.json", "/docs", "/docs/assets/swagger-ui-dist/swagger-ui.css"]) {
      expect((await app.request(path)).status, path).toBe(200);
    }
  });

  test("the OpenAPI document declares the bearer scheme on /execute and /metrics only, so Swagger UI offers Authorize", async () => {
    const doc = (await (await app.request("/openapi.json")).json()) as any;
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });
    expect(doc.paths["/execute"].post.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.paths["/metrics"].get.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.paths["/health"].get.security).toBeUndefined();
    expect(doc.paths["/execute"].post.responses["401"].content["application/json"].examples.UNAUTHORIZED.value.code).toBe("UNAUTHORIZED");
  });

  test("the startup log says auth is on and how many keys, never the keys", async () => {
    const { logger, raw } = capturingLogger();
    await composeApp(config, realSubprocessSandbox(config), { python: "test", packages: {} }, logger);
    const line = raw.join("");
    expect(line).toMatch(/API key auth is on/);
    expect(line).toContain('"keys":2');
    for (const key of KEYS) expect(line).not.toContain(key);
  });

  test("a refused request is logged with its request id and reason, never with the key", async () => {
    const { logger, lines, raw } = capturingLogger();
    const { app: logged } = await composeApp(config, realSubprocessSandbox(config), { python: "test", packages: {} }, logger);
    await post(logged, { authorization: `Bearer ${KEYS[0]}-guess`, "x-request-id": "req-401" });
    expect(lines.find((line) => line.msg === "unauthorized request")).toMatchObject({
      requestId: "req-401",
      method: "POST",
      path: "/execute",
      reason: "invalid",
      level: 40,
    });
    expect(raw.join("")).not.toContain(KEYS[0]);
  });
});

describe("without API_KEYS", () => {
  test("everything is open, the document declares no security, and the startup log warns that the service is open", async () => {
    const config = testConfig();
    const { logger, lines } = capturingLogger();
    const { app } = await composeApp(config, realSubprocessSandbox(config), { python: "test", packages: {} }, logger);
    expect(lines.find((line) => line.auth === "off")).toMatchObject({ level: 40, msg: expect.stringMatching(/API_KEYS is not set.*open/) });
    expect((await post(app)).status).toBe(200);
    expect((await app.request("/metrics")).status).toBe(200);
    const doc = (await (await app.request("/openapi.json")).json()) as any;
    expect(doc.components?.securitySchemes).toBeUndefined();
    expect(doc.paths["/execute"].post.security).toBeUndefined();
  });
});
