/**
 * What one run can reach of another, concurrent or earlier or later: processes, files, System V
 * and POSIX IPC objects, abstract unix sockets, environment, module state, threads, random
 * state. The same for both modes of the nsjail backend: a jail per run, and a fork server's
 * child per run, where every run is forked from the same warm interpreter (the preloaded one, or the
 * bare one for a script that names no preloaded module). Skipped loudly where
 * nsjail cannot run, a failure under REQUIRE_NSJAIL=1.
 */
import { rm } from "node:fs/promises";
import { afterAll, beforeAll, expect, it } from "vitest";
import { CREATED, LEAVE_BEHIND, LOOK_AROUND, NOTHING_REACHED } from "../support/look-around.js";
import { eachMode, nsjailModes } from "../support/nsjail.js";
import { processesOfRun } from "../support/processes.js";
import { appOver } from "../support/real-app.js";
import { type App, execute, py, uniqueMarker } from "../support/requests.js";

const modes = await nsjailModes({ POOL_SIZE: "0" });

/**
 * Module state a first run changes and the next looks at: the preloaded modules', and that of a
 * script that names none of them, which in zygote mode is forked from the bare fork server
 * (fork-choice.ts), whose forks copy its module state as the preloaded one's copy theirs.
 */
const MODULE_STATES = [
  {
    interpreter: "the preloaded modules",
    imports: "import numpy, pandas, statistics",
    patches: ["numpy.pi = 3", 'pandas.DataFrame.sum = lambda self, *a, **k: "patched"', 'statistics.mean = lambda *a, **k: "patched"'],
    looks: { "numpy.pi": "numpy.pi", "DataFrame.sum": 'int(pandas.DataFrame({"x": [1, 2]}).sum()["x"])', "statistics.mean": "statistics.mean([1, 2, 3])" },
    seen: { "numpy.pi": Math.PI, "DataFrame.sum": 3, "statistics.mean": 2 },
  },
  {
    interpreter: "a script that names no preloaded module",
    imports: "import statistics, textwrap",
    patches: ['textwrap.dedent = lambda *a, **k: "patched"', 'statistics.mean = lambda *a, **k: "patched"'],
    looks: {
      "textwrap.dedent": 'textwrap.dedent("  x")',
      "statistics.mean": "statistics.mean([1, 2, 3])",
      // Not named as words: a script that names them is forked from the preloaded fork server.
      preloaded: '[name for name in ("nu" + "mpy", "pan" + "das", "mat" + "plotlib") if name in sys.modules]',
    },
    // Neither a cold jail (no pool here) nor a fork of the bare fork server has imported them.
    seen: { "textwrap.dedent": "x", "statistics.mean": 2, preloaded: [] },
  },
];

/** Python lines indented `depth` levels, each ending its line. */
const block = (lines: readonly string[], depth: number) => lines.map((line) => `${"    ".repeat(depth)}${line}\n`).join("");

eachMode(modes)("nsjail ($mode): between runs", ({ sandbox }) => {
  let app: App;
  beforeAll(async () => {
    app = await appOver(sandbox);
  });
  afterAll(async () => {
    await sandbox.close();
  });

  it("a run reaches nothing of a run going on beside it: processes, files, IPC objects, abstract sockets", async () => {
    const marker = uniqueMarker();
    const key = 0x5000 + (Number(marker.slice(-6)) % 0x1000);
    // The first run holds main() open, everything created, until the test removes its file `hold`.
    const first = execute(
      app,
      LEAVE_BEHIND(marker, key) +
        py`

      def main():
          created = leave_behind()
          open("hold", "w").close()
          deadline = time.monotonic() + 20
          while os.path.exists("hold") and time.monotonic() < deadline:
              time.sleep(0.02)
          return created
    `,
    );
    const holders = await processesOfRun(`left-${marker}`);
    expect(holders.length).toBeGreaterThan(0);
    try {
      // In zygote mode the first run is the bare fork server's fork, this one the preloaded one's (it names numpy).
      const second = await execute(app, `${LOOK_AROUND(marker, key)}\n\nimport numpy\n\ndef main():\n    return look_around()\n`);
      expect(second.status, second.text).toBe(200);
      expect(second.body.result).toEqual(NOTHING_REACHED);
    } finally {
      await rm(`/proc/${holders[0]!.pid}/root/sandbox/work/hold`, { force: true });
    }
    const held = await first;
    expect(held.status, held.text).toBe(200);
    expect(held.body.result, held.text).toEqual(CREATED);
  });

  it("a run's signals to its process group and session reach no run beside it: each run leads a session of its own", async () => {
    const marker = uniqueMarker();
    // The first run notes every SIGCONT it gets (one a whole session receives, whatever the uid),
    // holding main() open until the test removes its file `hold`.
    const first = execute(
      app,
      py`
      import os, signal, time

      def main():
          got = []
          signal.signal(signal.SIGCONT, lambda signum, frame: got.append(signum))
          open("held-${marker}", "w").close()
          open("hold", "w").close()
          deadline = time.monotonic() + 20
          while os.path.exists("hold") and time.monotonic() < deadline:
              time.sleep(0.02)
          return got
    `,
    );
    const holders = await processesOfRun(`held-${marker}`);
    expect(holders.length).toBeGreaterThan(0);
    try {
      const second = await execute(
        app,
        py`
        import os, signal

        def main():
            signal.signal(signal.SIGCONT, signal.SIG_IGN)
            os.kill(0, signal.SIGCONT)
            return {"pid": os.getpid(), "pgid": os.getpgid(0), "sid": os.getsid(0)}
      `,
      );
      expect(second.status, second.text).toBe(200);
      expect(second.body.result).toEqual({ pid: 1, pgid: 1, sid: 1 });
    } finally {
      await rm(`/proc/${holders[0]!.pid}/root/sandbox/work/hold`, { force: true });
    }
    const held = await first;
    expect(held.status, held.text).toBe(200);
    expect(held.body.result).toEqual([]);
  });

  it.each(MODULE_STATES)(
    "nothing a run leaves behind reaches the next: files, IPC objects, sockets, environment, threads, module state ($interpreter)",
    async ({ imports, patches, looks, seen }) => {
      const marker = uniqueMarker();
      const key = 0x6000 + (Number(marker.slice(-6)) % 0x1000);
      const leaves = [...patches, "builtins.left_by_a_run = True", 'sys.modules["left_by_a_run"] = object()', 'sys.path.insert(0, "/sandbox/work")'];
      const first = await execute(
        app,
        `${LEAVE_BEHIND(marker, key)}\n\nimport builtins, sys\n${imports}\n\ndef main():\n    created = leave_behind()\n${block(leaves, 1)}    return created\n`,
      );
      expect(first.status, first.text).toBe(200);
      expect(first.body.result, first.text).toEqual(CREATED);
      const entries = [
        "**look_around(),",
        '"threads": threading.active_count(),',
        ...Object.entries(looks).map(([name, expression]) => `"${name}": ${expression},`),
        '"builtin": hasattr(builtins, "left_by_a_run"),',
        '"module": "left_by_a_run" in sys.modules,',
        '"sys.path": "/sandbox/work" in sys.path,',
      ];
      const next = await execute(
        app,
        `${LOOK_AROUND(marker, key)}\n\nimport builtins, sys, threading\n${imports}\n\ndef main():\n    return {\n${block(entries, 2)}    }\n`,
      );
      expect(next.status, next.text).toBe(200);
      expect(next.body.result).toEqual({ ...NOTHING_REACHED, threads: 1, ...seen, builtin: false, module: false, "sys.path": false });
    },
  );

  it.each([
    { script: "import random\nimport numpy\ndef main():\n    return [random.random(), float(numpy.random.rand())]\n", of: "with the preloaded modules" },
    // Forked from the bare fork server in zygote mode: random is imported after the fork there.
    { script: "import random, os\ndef main():\n    return [random.random(), os.urandom(8).hex()]\n", of: "of a script that names no preloaded module" },
  ])("every run draws random numbers of its own ($of)", async ({ script }) => {
    const draws = await Promise.all([execute(app, script), execute(app, script)]);
    draws.push(await execute(app, script));
    for (const draw of draws) expect(draw.status, draw.text).toBe(200);
    const values = draws.flatMap((draw) => draw.body.result as unknown[]);
    expect(new Set(values).size).toBe(values.length);
  });

  it("holds no capability in any set and cannot gain one: no_new_privs", async () => {
    const res = await execute(
      app,
      py`
      import ctypes

      libc = ctypes.CDLL(None, use_errno=True)
      PR_GET_NO_NEW_PRIVS, PR_CAPBSET_READ, PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET = 39, 23, 47, 1

      def main():
          header = (ctypes.c_uint32 * 2)(0x20080522, 0)
          data = (ctypes.c_uint32 * 6)()
          libc.syscall(125, header, data)  # capget
          return {
              "effective, permitted, inheritable": [data[0], data[1], data[2], data[3], data[4], data[5]],
              "bounding": [cap for cap in range(64) if libc.prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1],
              "ambient": [cap for cap in range(64) if libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0) == 1],
              "no_new_privs": libc.prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0),
          }
    `,
    );
    expect(res.status, res.text).toBe(200);
    expect(res.body.result).toEqual({ "effective, permitted, inheritable": [0, 0, 0, 0, 0, 0], bounding: [], ambient: [], no_new_privs: 1 });
  });
});
