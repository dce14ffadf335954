import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { NO_OUTPUT } from "../../domain/captured-output.js";
import { failure } from "../../domain/execution-result.js";
import { err, ok } from "../../domain/result.js";
import type { SessionView } from "../../domain/sessions.use-case.js";
import type { SessionsApi } from "../http/sessions.js";
import { ServiceMetrics } from "./metrics.js";
import { observeSessions, onSessionEnded } from "./observe-sessions.js";

const VIEW: SessionView = { id: "s", createdAt: 0, lastUsedAt: 0, expiresAt: 1, memoryMb: 64, idleTimeoutMs: 1000, cells: 0 };

/** Sessions that answer from a script: each create and execute takes the next outcome. */
function scripted(creates: ("OK" | "SESSION_LIMIT")[], cells: ("OK" | "RUNTIME_ERROR" | "SESSION_NOT_FOUND")[]): SessionsApi {
  return {
    create: async () => (creates.shift() === "OK" ? ok(VIEW) : err(failure("SESSION_LIMIT", "full", NO_OUTPUT))),
    view: () => VIEW,
    execute: async () => {
      const code = cells.shift();
      return code === "OK" || code === undefined ? ok({ resultJson: "1", output: NO_OUTPUT, durationMs: 1 }) : err(failure(code, "no", NO_OUTPUT));
    },
    delete: async () => true,
  };
}

/** The value of a sample of the scrape, by its name and labels as written. */
const sample = (text: string, series: string): number | undefined => {
  const line = text.split("\n").find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

describe("session metrics", () => {
  it("count sessions started and cells run by outcome code, and sessions ended by reason; the open gauge is read at scrape time", async () => {
    let open = 0;
    const metrics = new ServiceMetrics({ running: () => 0, queued: () => 0, sessionsOpen: () => open }, { defaultMetrics: false });
    const sessions = observeSessions(scripted(["OK", "SESSION_LIMIT"], ["OK", "OK", "RUNTIME_ERROR", "SESSION_NOT_FOUND"]), metrics);
    await sessions.create("o", { memoryMb: 64, idleTimeoutMs: 1000 });
    await sessions.create("o", { memoryMb: 64, idleTimeoutMs: 1000 });
    for (let cell = 0; cell < 4; cell++) await sessions.execute("o", "s", { code: "1", timeoutMs: 100 });
    const ended = onSessionEnded({ logger: pino({ level: "silent" }), metrics });
    ended("idle", { cells: 2, ageMs: 10 });
    ended("idle", { cells: 0, ageMs: 10 });
    ended("cell", { cells: 1, ageMs: 10 });
    open = 3;

    const text = await metrics.render();
    expect(text).toContain("# TYPE pyexec_sessions_open gauge");
    expect(sample(text, "pyexec_sessions_open")).toBe(3);
    expect(sample(text, 'pyexec_session_starts_total{code="OK"}')).toBe(1);
    expect(sample(text, 'pyexec_session_starts_total{code="SESSION_LIMIT"}')).toBe(1);
    expect(sample(text, 'pyexec_session_cells_total{code="OK"}')).toBe(2);
    expect(sample(text, 'pyexec_session_cells_total{code="RUNTIME_ERROR"}')).toBe(1);
    expect(sample(text, 'pyexec_session_cells_total{code="SESSION_NOT_FOUND"}')).toBe(1);
    expect(sample(text, 'pyexec_sessions_ended_total{reason="idle"}')).toBe(2);
    expect(sample(text, 'pyexec_sessions_ended_total{reason="cell"}')).toBe(1);
    // Every reason is there from the start.
    expect(sample(text, 'pyexec_sessions_ended_total{reason="max-age"}')).toBe(0);
  });

  it("without sessions there is no open-sessions gauge", async () => {
    const metrics = new ServiceMetrics({ running: () => 0, queued: () => 0 }, { defaultMetrics: false });
    expect(await metrics.render()).not.toContain("pyexec_sessions_open");
  });
});

describe("the session-ended log line", () => {
  it("says why, how many cells and how old, never the id; a sandbox that ended by itself is a warning", () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
        done();
      },
    });
    const metrics = new ServiceMetrics({ running: () => 0, queued: () => 0 }, { defaultMetrics: false });
    const ended = onSessionEnded({ logger: pino({ base: undefined, timestamp: false }, sink), metrics });
    ended("deleted", { cells: 3, ageMs: 1200 });
    ended("process", { detail: "killed by signal 9", cells: 1, ageMs: 50 });
    expect(lines).toEqual([
      { level: 30, reason: "deleted", cells: 3, ageMs: 1200, msg: "session ended" },
      { level: 40, reason: "process", detail: "killed by signal 9", cells: 1, ageMs: 50, msg: "session ended" },
    ]);
  });
});
