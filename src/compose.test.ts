import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { FakeSandbox } from "../test/support/fake-sandbox.js";
import { composeApp, newSessionId } from "./compose.js";
import { loadConfig } from "./config.js";

describe("session ids", () => {
  it("are 128 random bits, URL-safe (base64url, 22 characters), a new one each time", () => {
    const ids = Array.from({ length: 1000 }, newSessionId);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe("composeApp's sessions", () => {
  it("/health shows the sessions open and MAX_SESSIONS; /sessions is served behind the API key", async () => {
    const config = loadConfig({ MAX_SESSIONS: "3", POOL_SIZE: "0", API_KEYS: "k" });
    const { app, sessions } = await composeApp(config, new FakeSandbox(), { python: "test", packages: {} }, pino({ level: "silent" }));
    expect(sessions.count).toBe(0);
    expect(await (await app.request("/health")).json()).toMatchObject({ sessions: { open: 0, max: 3 } });
    expect((await app.request("/sessions/nope")).status).toBe(401);
    expect((await app.request("/sessions/nope", { headers: { authorization: "Bearer k" } })).status).toBe(404);
  });
});
