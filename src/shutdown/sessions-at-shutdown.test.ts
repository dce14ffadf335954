import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { NO_OUTPUT } from "../../domain/captured-output.js";
import { ok } from "../../domain/result.js";
import type { SandboxPort } from "../../domain/sandbox.port.js";
import type { SessionView } from "../../domain/sessions.use-case.js";
import type { SessionsApi } from "../http/sessions.js";
import { Drain } from "./drain.js";
import type { InFlightRequests } from "./in-flight-requests.js";
import { shutDown } from "./shut-down.js";

const VIEW: SessionView = { id: "s", createdAt: 0, lastUsedAt: 0, expiresAt: 1, memoryMb: 64, idleTimeoutMs: 1000, cells: 0 };

/** The shutdown's collaborators, each writing what happened to it into `events`. */
function collaborators(inFlightIdle: Promise<void>) {
  const events: string[] = [];
  const server = {
    close: (done?: () => void) => {
      events.push("server.close");
      done?.();
      return server;
    },
    closeIdleConnections: () => undefined,
    closeAllConnections: () => events.push("server.closeAllConnections"),
  };
  const inFlight = { size: 1, idle: () => inFlightIdle } as unknown as InFlightRequests;
  const sandbox = {
    backend: "fake",
    isolation: "none",
    run: async () => ok({ resultJson: "1", output: NO_OUTPUT, durationMs: 1 }),
    close: async () => {
      events.push("sandbox.close");
    },
  } as SandboxPort;
  const sessions = {
    count: 2,
    close: async (options?: { waitForCells?: boolean }) => {
      events.push(`sessions.close(waitForCells: ${options?.waitForCells ?? true})`);
    },
  };
  return { events, server: server as never, inFlight, sandbox, sessions, drain: new Drain(1), logger: pino({ level: "silent" }) };
}

describe("sessions at shutdown", () => {
  it("end after the requests in flight, their cells finishing first, and before the sandbox closes", async () => {
    const deps = collaborators(Promise.resolve());
    await shutDown({ ...deps, graceMs: 1000 });
    expect(deps.events).toEqual(["server.close", "sessions.close(waitForCells: true)", "sandbox.close", "server.closeAllConnections"]);
  });

  it("past the grace period, end at once, their running cells stopped", async () => {
    const deps = collaborators(new Promise(() => undefined));
    await shutDown({ ...deps, graceMs: 10 });
    expect(deps.events).toContain("sessions.close(waitForCells: false)");
    expect(deps.events.indexOf("sessions.close(waitForCells: false)")).toBeLessThan(deps.events.indexOf("sandbox.close"));
  });

  it("once draining, no session starts and no cell runs (503 with Retry-After); reading and deleting go on", async () => {
    const drain = new Drain(3);
    const calls: string[] = [];
    const sessions = drain.guardSessions({
      create: async () => {
        calls.push("create");
        return ok(VIEW);
      },
      view: () => VIEW,
      execute: async () => {
        calls.push("execute");
        return ok({ resultJson: "1", output: NO_OUTPUT, durationMs: 1 });
      },
      delete: async () => true,
    } satisfies SessionsApi);
    expect((await sessions.create("o", { memoryMb: 64, idleTimeoutMs: 1000 })).ok).toBe(true);
    drain.startDraining();
    expect(await sessions.create("o", { memoryMb: 64, idleTimeoutMs: 1000 })).toEqual({
      ok: false,
      error: expect.objectContaining({ code: "SANDBOX_UNAVAILABLE", retryAfterSeconds: 3 }),
    });
    const cell = await sessions.execute("o", "s", { code: "1", timeoutMs: 100 });
    expect(!cell.ok && cell.error).toMatchObject({ code: "SANDBOX_UNAVAILABLE", message: expect.stringContaining("start a new session") });
    expect(calls).toEqual(["create"]);
    expect(sessions.view("o", "s")).toBe(VIEW);
    expect(await sessions.delete("o", "s")).toBe(true);
  });
});
