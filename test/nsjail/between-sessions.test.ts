/**
 * The between-runs suite, applied to sessions: what a session can reach of another session open
 * beside it, of a stateless run beside it, and of a session that ended before it; and what a
 * run can reach of a session. In both modes of the nsjail backend. A session is a sandbox like a
 * run: its own uid, cgroup slot, namespaces and seccomp policy, for as long as it lives.
 */
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, expect, it } from "vitest";
import { HarnessSessions } from "../../adapters/session/harness-sessions.js";
import type { SandboxOutcome } from "../../domain/sandbox.port.js";
import type { SandboxSession } from "../../domain/session.port.js";
import { artifactLimitsOf } from "../../src/sandbox-factory.js";
import { CREATED, LEAVE_BEHIND, LOOK_AROUND, NOTHING_REACHED } from "../support/look-around.js";
import { eachMode, nsjailModes } from "../support/nsjail.js";
import { processesOfRun } from "../support/processes.js";
import { appOver, testConfig } from "../support/real-app.js";
import { type App, execute, uniqueMarker } from "../support/requests.js";
import { scaled } from "../support/slowdown.js";

const modes = await nsjailModes({ POOL_SIZE: "0" });

const resultOf = (outcome: SandboxOutcome): unknown => {
  if (!outcome.ok) throw new Error(`${outcome.error.code}: ${outcome.error.message}\n${outcome.error.traceback ?? ""}`);
  return JSON.parse(outcome.value.resultJson);
};

/** The host uid a process runs under (its status file's real uid). */
async function hostUid(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
}

eachMode(modes)("nsjail ($mode): between sessions", ({ sandbox }) => {
  let app: App;
  let sessions: HarnessSessions;
  const open = new Set<SandboxSession>();

  beforeAll(async () => {
    app = await appOver(sandbox);
    const config = testConfig();
    sessions = new HarnessSessions(sandbox, {
      maxOutputBytes: config.maxOutputBytes,
      maxResultBytes: config.maxResultBytes,
      artifactLimits: artifactLimitsOf(config),
    });
  });
  afterAll(async () => {
    await Promise.all([...open].map((session) => session.end()));
    await sandbox.close();
  });

  const started = async (): Promise<SandboxSession> => {
    const opened = await sessions.openSession({ memoryMb: 256, maxAgeMs: scaled(120_000) });
    if (!opened.ok) throw new Error(`${opened.error.code}: ${opened.error.message}`);
    open.add(opened.value);
    return opened.value;
  };
  const cell = async (session: SandboxSession, code: string): Promise<unknown> =>
    resultOf((await session.runCell({ code, timeoutMs: scaled(20_000) })).outcome);
  const keyOf = (marker: string, base: number) => base + (Number(marker.slice(-6)) % 0x1000);

  it("a session reaches nothing of another open beside it, and each runs under a host uid of its own", async () => {
    const marker = uniqueMarker();
    const key = keyOf(marker, 0x7000);
    const [first, second] = [await started(), await started()];
    expect(await cell(first, `${LEAVE_BEHIND(marker, key)}\nleave_behind()`)).toEqual(CREATED);
    expect(await cell(second, `${LOOK_AROUND(marker, key)}\nlook_around()`)).toEqual(NOTHING_REACHED);
    // The first still has all it left: the second did not miss it for it being gone.
    expect(await cell(first, `open("left-${marker}").read()`)).toBe("left behind");
    await cell(second, `open("seen-${marker}", "w").close()`);
    const [firstProcess] = await processesOfRun(`left-${marker}`);
    const [secondProcess] = await processesOfRun(`seen-${marker}`);
    expect(await hostUid(firstProcess!.pid)).not.toBe(await hostUid(secondProcess!.pid));
  });

  it("a run beside a session reaches nothing of it, and the session nothing the run left", async () => {
    const marker = uniqueMarker();
    const key = keyOf(marker, 0x8000);
    const session = await started();
    expect(await cell(session, `${LEAVE_BEHIND(marker, key)}\nleave_behind()`)).toEqual(CREATED);
    const run = await execute(app, `${LOOK_AROUND(marker, key)}\n\ndef main():\n    return look_around()\n`);
    expect(run.status, run.text).toBe(200);
    expect(run.body.result).toEqual(NOTHING_REACHED);

    const other = uniqueMarker();
    const otherKey = keyOf(other, 0x9000);
    const left = await execute(app, `${LEAVE_BEHIND(other, otherKey)}\n\ndef main():\n    return leave_behind()\n`);
    expect(left.body.result, left.text).toEqual(CREATED);
    // Its own thread, which leave_behind() started, is a pid of its namespace too.
    const ownThreadsAside = `import threading\nfound = look_around()\nown = {t.native_id for t in threading.enumerate()}\nfound["processes"] = [p for p in found["processes"] if p not in own]\nfound`;
    expect(await cell(session, `${LOOK_AROUND(other, otherKey)}\n${ownThreadsAside}`)).toEqual({ ...NOTHING_REACHED, files: [`left-${marker}`] });
  });

  it("a session opened after another ended reaches nothing of it", async () => {
    const marker = uniqueMarker();
    const key = keyOf(marker, 0xa000);
    const first = await started();
    expect(await cell(first, `${LEAVE_BEHIND(marker, key)}\nleave_behind()`)).toEqual(CREATED);
    await first.end();
    open.delete(first);
    const next = await started();
    expect(await cell(next, `${LOOK_AROUND(marker, key)}\nlook_around()`)).toEqual(NOTHING_REACHED);
  });

  it("every session draws random numbers of its own", async () => {
    const code = "import random, numpy\n[random.random(), float(numpy.random.rand())]";
    const draws = await Promise.all([started(), started(), started()].map(async (session) => cell(await session, code)));
    const values = draws.flat();
    expect(new Set(values).size).toBe(values.length);
  });
});
