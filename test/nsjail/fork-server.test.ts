/**
 * The fork server itself (SANDBOX_MODE=zygote): no run can crash, stall or change it; when it
 * dies anyway, the runs it had get a clear error, nothing of them is left, and the next run is
 * served by a new one; it is replaced after a number of runs or an age. Real nsjail; skipped
 * loudly where nsjail cannot run, a failure under REQUIRE_NSJAIL=1.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readdir, readFile, readlink, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { blockDevicesOf } from "../../adapters/cgroups/block-devices.js";
import { detectCgroups } from "../../adapters/cgroups/cgroup.js";
import { ZygoteSandbox, type ZygoteSandboxOptions } from "../../adapters/fork-server/zygote-sandbox.js";
import { findNsjailBinary } from "../../adapters/nsjail/nsjail-binary.js";
import type { SandboxPort } from "../../domain/sandbox.port.js";
import { projectRoot } from "../../src/project-paths.js";
import { artifactLimitsOf, pooled } from "../../src/sandbox-factory.js";
import { nsjailModes } from "../support/nsjail.js";
import { until } from "../support/observing.js";
import { processesOfRun, survivorsSeeing } from "../support/processes.js";
import { appOver, runtime, silentLogger, slowed, testConfig } from "../support/real-app.js";
import { type App, execute, py, uniqueMarker } from "../support/requests.js";
import { scaled, testTimeout } from "../support/slowdown.js";

const available = (await nsjailModes({ POOL_SIZE: "0" }).then(async (modes) => {
  await Promise.all(modes.map(({ sandbox }) => sandbox.close()));
  return modes.length > 0;
})) as boolean;

const opened: SandboxPort[] = [];

/** A fork-server sandbox as the server builds it, with these replacement limits. */
async function forkServerApp(
  { spares = 0, ...limits }: Pick<ZygoteSandboxOptions, "maxForks" | "maxAgeMs"> & { spares?: number } = {},
  log: string[] = [],
  env: Record<string, string> = {},
): Promise<App> {
  const config = testConfig({ POOL_SIZE: String(spares), ...env });
  const backend = new ZygoteSandbox({
    runtime: runtime(),
    nsjailBin: findNsjailBinary(runtime().venvDir)!,
    configPath: join(projectRoot(), "nsjail.cfg"),
    cgroup: detectCgroups().mode,
    throttledDevices: blockDevicesOf([runtime().venvDir, "/usr"]),
    ioMbPerSec: config.sandboxIoMbPerSec,
    maxOutputBytes: config.maxOutputBytes,
    maxResultBytes: config.maxResultBytes,
    artifactLimits: artifactLimitsOf(config),
    preloadModules: config.preloadModules,
    serverEnv: {},
    uidBase: config.sandboxUidBase,
    memoryLimitMb: config.memoryLimitMb,
    endGraceMs: config.endGraceMs,
    onSandboxLog: (text, context) => log.push(`${context.code}: ${text}`),
    ...limits,
  });
  // Runs forked ahead are the pool's, as the server builds it.
  const sandbox = pooled(backend, config, silentLogger);
  opened.push(sandbox);
  return appOver(sandbox, config);
}

async function readProc(pid: string, file: string): Promise<string> {
  try {
    return await readFile(`/proc/${pid}/${file}`, "latin1");
  } catch {
    return "";
  }
}

const parentOf = async (pid: string) => {
  const stat = await readProc(pid, "stat");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1] ?? "";
};

/** The fork servers of this test process: interpreters running sandbox_harness.fork_server under an nsjail it started. */
async function forkServers(): Promise<number[]> {
  const found: number[] = [];
  for (const pid of await readdir("/proc")) {
    if (!/^\d+$/.test(pid) || !(await readProc(pid, "cmdline")).includes("\0--child-seccomp\0")) continue;
    if ((await parentOf(await parentOf(pid))) === String(process.pid)) found.push(Number(pid));
  }
  return found.sort();
}

/** Polls until the fork servers are these (a stopped one takes a moment to be reaped). */
async function forkServersSettled(expected: (pids: number[]) => boolean, withinMs = 15_000): Promise<number[]> {
  const deadline = performance.now() + withinMs;
  let pids = await forkServers();
  while (!expected(pids) && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    pids = await forkServers();
  }
  return pids;
}

const HELLO = "def main():\n    return 'hello'\n";

const childPids = (pid: number) =>
  readFile(`/proc/${pid}/task/${pid}/children`, "utf8").then(
    (text) => text.split(" ").filter(Boolean).map(Number),
    () => [] as number[],
  );
const namespaceDepth = async (pid: number) =>
  /^NSpid:(.*)$/m
    .exec(await readProc(String(pid), "status"))?.[1]
    ?.trim()
    .split(/\s+/).length;

/** The bare fork server: the preloaded one's child in the same pid namespace (each run's process is pid 1 of a new one). */
async function bareOf(server: number): Promise<number | undefined> {
  const depth = await namespaceDepth(server);
  for (const child of await childPids(server)) if ((await namespaceDepth(child)) === depth) return child;
  return undefined;
}

/** The processes a fork server forked from either interpreter and has not reaped (runs' processes and spares). */
async function runsOf(server: number): Promise<{ preloaded: number[]; bare: number[] }> {
  const bare = await bareOf(server);
  const preloaded = (await childPids(server)).filter((pid) => pid !== bare);
  return { preloaded, bare: bare === undefined ? [] : await childPids(bare) };
}

/** The processes a fork server forked and has not reaped (runs' processes and spares), once there are `count`. */
async function childrenOf(server: number, count: number, withinMs = 10_000): Promise<number[]> {
  const read = async () => {
    const { preloaded, bare } = await runsOf(server);
    return [...preloaded, ...bare];
  };
  const deadline = performance.now() + withinMs;
  let children = await read();
  while (children.length !== count && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    children = await read();
  }
  return children;
}

/** Waits until the sandbox opened last has `count` spares ready for a request (forked, in their slots, connected). */
const sparesReady = (count: number, withinMs = scaled(10_000)) => until(() => opened.at(-1)?.readyCount === count, withinMs);

const alive = (pid: number) => readProc(String(pid), "stat").then((stat) => stat !== "" && !/^\d+ \(.*\) Z/.test(stat));

/**
 * Attaches to the process as its tracer (PTRACE_SEIZE) and never waits for it: once it dies it
 * stays a zombie its own parent cannot reap, until the tracer exits.
 */
async function traceWithoutWaiting(pid: number): Promise<ChildProcess> {
  const source = py`
    import ctypes, sys, time

    PTRACE_SEIZE = 0x4206
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.ptrace(PTRACE_SEIZE, int(sys.argv[1]), None, None) != 0:
        raise OSError(ctypes.get_errno(), "ptrace")
    print("tracing", flush=True)
    time.sleep(3600)
  `;
  const tracer = spawn("python3", ["-c", source, String(pid)], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise((resolve, reject) => {
    tracer.stdout!.once("data", resolve);
    tracer.once("exit", (code) => reject(new Error(`the tracer exited (${code})`)));
  });
  return tracer;
}

/** A fork server that has served a run, and a run of it that marks itself and sleeps past its 2 s limit. */
async function runPastItsLimit(log: string[]) {
  const app = await forkServerApp({}, log);
  expect((await execute(app, HELLO)).status).toBe(200);
  const [server] = await forkServers();
  const mark = `run-${uniqueMarker()}`;
  const pending = execute(app, `import time\n\ndef main():\n    open("${mark}", "w").close()\n    time.sleep(60)\n`, { timeoutMs: 2000 });
  return { app, server, mark, pending };
}

/** Whether every one of the processes is gone, waiting a while for them to go. */
async function allGone(pids: number[]): Promise<boolean> {
  const anyAlive = async () => (await Promise.all(pids.map(alive))).some(Boolean);
  for (let i = 0; i < 100 && (await anyAlive()); i++) await new Promise((resolve) => setTimeout(resolve, 50));
  return !(await anyAlive());
}

describe.runIf(available)("nsjail fork server", () => {
  // One test's fork servers at a time: forkServers() finds every one of this process.
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((sandbox) => sandbox.close()));
  });

  it("no run can crash, stall or change the fork server: the next runs are forked by the same one", async () => {
    const app = await forkServerApp();
    expect((await execute(app, HELLO)).status).toBe(200);
    const [server] = await forkServers();
    expect(server).toBeDefined();
    const hostile = [
      // Garbage on every descriptor, its own channels included, then each closed.
      py`
        import os

        def main():
            for fd in range(256):
                try:
                    os.write(fd, b"\x00garbage\n{\"status\":\"ok\"}\n")
                except OSError:
                    pass
            os.closerange(0, 256)
            return 1
      `,
      // Signals to everything it can name, the fork server's pids included if it could see them.
      py`
        import os, signal

        def main():
            for pid in [-1, 0, *range(1, 300)]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            return os.listdir("/sandbox")
      `,
      "def main():\n    return list(range(10**9))\n",
      "import os\ndef main():\n    while True:\n        os.fork()\n",
      "import os\ndef main():\n    os._exit(0)\n",
    ];
    const bare = await bareOf(server!);
    // Each from the bare interpreter, then from the preloaded one (a script that names numpy).
    for (const script of hostile) for (const preamble of ["", "import numpy\n"]) await execute(app, preamble + script, { timeoutMs: 5000 });
    for (const script of [HELLO, `import numpy\n${HELLO}`]) {
      const after = await execute(app, script);
      expect(after.status, after.text).toBe(200);
      expect(after.body.result).toBe("hello");
    }
    expect(await forkServers()).toEqual([server]);
    expect(await bareOf(server!)).toBe(bare);
  });

  it("a run that replaces os._exit still ends as a run: nothing of the fork server's own code runs after the script", async () => {
    const app = await forkServerApp();
    const res = await execute(app, "import os\n\ndef main():\n    os._exit = lambda code: None\n    return 'done'\n");
    expect(res.status, res.text).toBe(200);
    expect(res.body.result).toBe("done");
    expect(res.body.stderr).toBe("");
    expect((await execute(app, HELLO)).status).toBe(200);
  });

  it("a run at its time limit is killed by the fork server, whose unreaped child it is, not by pids read from its cgroup", async () => {
    const log: string[] = [];
    const app = await forkServerApp({}, log);
    expect((await execute(app, HELLO)).status).toBe(200);
    const [server] = await forkServers();
    const mark = `run-${uniqueMarker()}`;
    const res = await execute(
      app,
      py`
      import os, signal, time

      def main():
          for _ in range(20):
              if os.fork() == 0:
                  signal.signal(signal.SIGTERM, signal.SIG_IGN)
                  open("${mark}", "w").close()
                  while True:
                      time.sleep(1)
          while True:
              time.sleep(1)
    `,
      { timeoutMs: 1500 },
    );
    expect(res.status, res.text).toBe(408);
    expect(res.body.code).toBe("TIMEOUT");
    expect(log.filter((line) => line.includes("did not kill a run"))).toEqual([]);
    expect(await survivorsSeeing(`/sandbox/work/${mark}`)).toEqual([]);
    expect(await forkServers()).toEqual([server]);
    expect((await execute(app, HELLO)).status).toBe(200);
  });

  it("the fork server's open files do not grow with the runs in flight", async () => {
    const app = await forkServerApp({}, [], { MAX_CONCURRENCY: "4" });
    expect((await execute(app, HELLO)).status).toBe(200);
    const [server] = await forkServers();
    const bare = await bareOf(server!);
    // Both fork servers' descriptors: the preloaded one forks two of the runs, the bare one the other two.
    const openFiles = async () => (await readdir(`/proc/${server}/fd`)).length + (await readdir(`/proc/${bare}/fd`)).length;
    const idle = await openFiles();
    const marks = [1, 2, 3, 4].map((i) => `run-${i}-${uniqueMarker()}`);
    const pending = marks.map((mark, i) =>
      execute(
        app,
        `${i % 2 ? "import numpy\n" : ""}import os, time\n\ndef main():\n    open("${mark}", "w").close()\n    while os.path.exists("${mark}"):\n        time.sleep(0.02)\n`,
      ),
    );
    const runs = await Promise.all(marks.map((mark) => processesOfRun(mark)));
    expect(runs.every((run) => run.length > 0)).toBe(true);
    try {
      expect(await openFiles()).toBe(idle);
    } finally {
      await Promise.all(runs.map(([run], i) => rm(`/proc/${run!.pid}/root/sandbox/work/${marks[i]}`, { force: true })));
    }
    for (const res of await Promise.all(pending)) expect(res.status, res.text).toBe(200);
  });

  it("a fork server that dies is replaced: its run in flight gets a clear 503, nothing of the run is left", async () => {
    const log: string[] = [];
    const app = await forkServerApp({}, log);
    expect((await execute(app, HELLO)).status).toBe(200);
    const [dying] = await forkServers();
    const mark = `run-${uniqueMarker()}`;
    const pending = execute(
      app,
      py`
      import os, time

      def main():
          open("${mark}", "w").close()
          os.fork()
          time.sleep(60)
    `,
    );
    expect((await processesOfRun(mark)).length).toBeGreaterThan(0);
    process.kill(dying!, "SIGKILL");
    const res = await pending;
    expect(res.status, res.text).toBe(503);
    expect(res.body.code).toBe("SANDBOX_UNAVAILABLE");
    expect(res.body.error).toBe("The sandbox stopped while the script ran; retry the request");
    expect(await survivorsSeeing(`/sandbox/work/${mark}`)).toEqual([]);
    expect(log.some((line) => line.includes("the fork server exited"))).toBe(true);
    const next = await execute(app, HELLO);
    expect(next.status, next.text).toBe(200);
    const servers = await forkServersSettled((pids) => !pids.includes(dying!));
    expect(servers).toHaveLength(1);
    expect(servers).not.toContain(dying);
  });

  // Its timeout: the run's 2 s limit and grace, the fork server's 10 s to answer, then a new one's start.
  it("a fork server that stalls is asked, does not answer and is stopped: its run is a TIMEOUT at its limit plus the grace, and the next run gets a new one", {
    timeout: testTimeout(30_000, 15_000),
  }, async () => {
    const log: string[] = [];
    const { app, server: stalled, mark, pending } = await runPastItsLimit(log);
    expect((await processesOfRun(mark)).length).toBeGreaterThan(0);
    // It can no longer kill nor reap the run the time limit ends: neither interpreter.
    const bare = await bareOf(stalled!);
    expect(bare).toBeDefined();
    for (const pid of [stalled!, bare!]) process.kill(pid, "SIGSTOP");
    const res = await pending;
    expect(res.status, res.text).toBe(408);
    expect(res.body.code).toBe("TIMEOUT");
    // Its processes were killed through its cgroup instead.
    expect(await survivorsSeeing(`/sandbox/work/${mark}`)).toEqual([]);
    await until(() => log.some((line) => line.includes("the fork server did not answer")), scaled(15_000));
    expect(log.some((line) => line.includes("the fork server did not answer"))).toBe(true);
    const next = await execute(app, HELLO);
    expect(next.status, next.text).toBe(200);
    const servers = await forkServersSettled((pids) => !pids.includes(stalled!));
    expect(servers).toHaveLength(1);
    expect(servers).not.toContain(stalled);
  });

  it("a fork server whose run cannot be reaped is asked, answers and is kept: the run is a TIMEOUT at its limit plus the grace, its uid comes back once it is reaped", async () => {
    const log: string[] = [];
    const { app, server, mark, pending } = await runPastItsLimit(log);
    const [run] = await processesOfRun(mark);
    // A tracer that never waits: the run's process, killed at its time limit, stays a zombie
    // the fork server cannot reap until the tracer is gone.
    const tracer = await traceWithoutWaiting(run!.pid);
    try {
      const res = await pending;
      expect(res.status, res.text).toBe(408);
      expect(res.body.code).toBe("TIMEOUT");
      expect(log.some((line) => line.includes("could not be emptied"))).toBe(true);
      // Asked, it answered: it was kept, and the next runs are its.
      await until(() => log.some((line) => line.includes("the fork server answered")), scaled(15_000));
      expect(log.filter((line) => line.includes("the fork server answered"))).toHaveLength(1);
      expect(log.filter((line) => line.includes("the fork server did not answer"))).toEqual([]);
      for (let i = 0; i < 2; i++) expect((await execute(app, HELLO)).status).toBe(200);
      expect(await forkServers()).toEqual([server]);
    } finally {
      tracer.kill("SIGKILL");
    }
    expect(await allGone([run!.pid])).toBe(true);
  });

  it("forks runs' processes ahead of their requests, each in a slot of its own, and a request is served by one of them", async () => {
    const app = await forkServerApp({ spares: 2 });
    expect((await execute(app, HELLO)).status).toBe(200);
    const [server] = await forkServers();
    await sparesReady(2);
    const spares = await childrenOf(server!, 2);
    expect(spares).toHaveLength(2);
    const slots = await Promise.all(spares.map((pid) => readProc(String(pid), "cgroup")));
    for (const slot of slots) expect(slot).toMatch(/\/uid-\d+\n/);
    expect(new Set(slots).size).toBe(2);
    const mark = `run-${uniqueMarker()}`;
    const pending = execute(app, `import time\n\ndef main():\n    open("${mark}", "w").close()\n    time.sleep(1)\n    return 7\n`);
    const run = await processesOfRun(mark);
    expect(run.map(({ pid }) => pid)).toHaveLength(1);
    expect(spares).toContain(run[0]!.pid);
    const res = await pending;
    expect(res.status, res.text).toBe(200);
    expect(res.body.result).toBe(7);
  });

  it("a script that names no preloaded module is forked from the bare fork server, one that names one from the preloaded", async () => {
    const app = await forkServerApp();
    expect((await execute(app, HELLO)).status).toBe(200);
    const [server] = await forkServers();
    const bare = await bareOf(server!);
    expect(bare).toBeDefined();
    const parentOfRun = async (script: string) => {
      const mark = `run-${uniqueMarker()}`;
      const pending = execute(app, script.replace("MARK", mark));
      const [run] = await processesOfRun(mark);
      const parent = Number(await parentOf(String(run!.pid)));
      const res = await pending;
      expect(res.status, res.text).toBe(200);
      return { parent, result: res.body.result };
    };
    // The modules are not named as words, or the script would be forked from the preloaded one.
    const holding =
      'import sys, time\n\ndef main():\n    open("MARK", "w").close()\n    time.sleep(0.5)\n    return sorted(m for m in ("nu" + "mpy", "pan" + "das", "mat" + "plotlib") if m in sys.modules)\n';
    expect(await parentOfRun(holding)).toEqual({ parent: bare, result: [] });
    expect(await parentOfRun(`import numpy\n${holding}`)).toEqual({ parent: server, result: ["matplotlib", "numpy", "pandas"] });
  });

  it("spares follow demand: a request that finds none of its kind moves them to its fork server", async () => {
    const app = await forkServerApp({ spares: 1 });
    const sparesOf = async (server: number) => {
      const { preloaded, bare } = await runsOf(server);
      return { preloaded: preloaded.length, bare: bare.length };
    };
    expect((await execute(app, HELLO)).status).toBe(200);
    const [server] = await forkServers();
    await sparesReady(1);
    await until(async () => (await sparesOf(server!)).bare === 1 && (await sparesOf(server!)).preloaded === 0, scaled(10_000));
    expect(await sparesOf(server!)).toEqual({ preloaded: 0, bare: 1 });
    const pandas = await execute(app, "import pandas\ndef main():\n    return int(pandas.Series([1, 2]).sum())\n");
    expect(pandas.body.result, pandas.text).toBe(3);
    await until(async () => (await sparesOf(server!)).preloaded === 1 && (await sparesOf(server!)).bare === 0, scaled(10_000));
    expect(await sparesOf(server!)).toEqual({ preloaded: 1, bare: 0 });
  });

  it("a spare sets itself up before its request: it waits in namespaces of its own, without capabilities, under seccomp", async () => {
    const app = await forkServerApp({ spares: 1 });
    expect((await execute(app, HELLO)).status).toBe(200);
    const [server] = await forkServers();
    await sparesReady(1);
    const [spare] = await childrenOf(server!, 1);
    const status = () => readProc(String(spare!), "status");
    // The fork server's jail has a filter of its own already: the spare's set-up adds one, last (after the capabilities went).
    const filters = async (pid: number) => Number(/^Seccomp_filters:\s+(\d+)$/m.exec(await readProc(String(pid), "status"))?.[1]);
    const inherited = await filters(server!);
    await until(async () => (await filters(spare!)) > inherited, scaled(10_000));
    expect(await filters(spare!)).toBe(inherited + 1);
    expect(await status()).toMatch(/^NoNewPrivs:\s+1$/m);
    expect(await status()).toMatch(/^CapEff:\s+0+$/m);
    expect(await status()).toMatch(/^CapBnd:\s+0+$/m);
    for (const ns of ["mnt", "net", "user", "ipc", "uts", "cgroup", "pid"]) {
      expect(await readlink(`/proc/${spare}/ns/${ns}`), ns).not.toBe(await readlink(`/proc/${server}/ns/${ns}`));
    }
    const res = await execute(app, HELLO);
    expect(res.status, res.text).toBe(200);
  });

  it("a spare forked with the largest memory limit runs a request under the request's own", async () => {
    const app = await forkServerApp({ spares: 1 });
    expect((await execute(app, HELLO)).status).toBe(200);
    await sparesReady(1);
    const [server] = await forkServers();
    const [spare] = await childrenOf(server!, 1);
    const mark = `run-${uniqueMarker()}`;
    const pending = execute(
      app,
      `import time\n\ndef main():\n    open("${mark}", "w").close()\n    time.sleep(1)\n    b = bytearray(96 * 1024 * 1024)\n    return len(b)\n`,
      { memoryMb: 64 },
    );
    expect((await processesOfRun(mark)).map(({ pid }) => pid)).toEqual([spare]);
    const res = await pending;
    expect(res.status, res.text).toBe(400);
    expect(res.body.code).toBe("MEMORY_LIMIT_EXCEEDED");
    const roomy = await execute(app, "def main():\n    b = bytearray(96 * 1024 * 1024)\n    return len(b)\n", { memoryMb: 256 });
    expect(roomy.body.result, roomy.text).toBe(96 * 1024 * 1024);
  });

  it("spares of a fork server that dies are given up: the next request is served, and close() leaves none", async () => {
    const app = await forkServerApp({ spares: 2 });
    expect((await execute(app, HELLO)).status).toBe(200);
    const [dying] = await forkServers();
    const spares = await childrenOf(dying!, 2);
    expect(spares).toHaveLength(2);
    process.kill(dying!, "SIGKILL");
    // A request that takes a spare in the moment the fork server dies may see its script start and
    // be stopped (an answer of 503, to retry): the next request is the one sent after the death.
    expect(await allGone([dying!, ...spares])).toBe(true);
    const next = await execute(app, HELLO);
    expect(next.status, next.text).toBe(200);
    const [replacement] = await forkServersSettled((pids) => pids.length === 1 && !pids.includes(dying!));
    const newSpares = await childrenOf(replacement!, 2);
    expect(newSpares).toHaveLength(2);
    await opened.splice(0).map((sandbox) => sandbox.close())[0];
    for (const pid of [replacement!, ...newSpares]) expect(await alive(pid)).toBe(false);
  });

  it("a fork server is stopped after its number of runs, and the next run gets a new one", async () => {
    const app = await forkServerApp({ maxForks: 3 });
    expect((await execute(app, HELLO)).status).toBe(200);
    const [first] = await forkServers();
    expect((await execute(app, HELLO)).status).toBe(200);
    expect(await forkServers()).toContain(first);
    expect((await execute(app, HELLO)).status).toBe(200);
    // Its third run was its last: it is stopped (its successor was started meanwhile).
    expect(await forkServersSettled((pids) => !pids.includes(first!))).not.toContain(first);
    expect((await execute(app, HELLO)).status).toBe(200);
    const last = await forkServers();
    expect(last).toHaveLength(1);
    expect(last).not.toContain(first);
  });

  it("fork servers that are unusable as soon as they are ready are not replaced without end: the run is refused", {
    timeout: testTimeout(0, 30_000),
  }, async () => {
    // No fork server may take a run: each one started for it is spent on arrival.
    const app = await forkServerApp({ maxForks: 0 });
    const res = await execute(app, HELLO);
    expect(res.status, res.text).toBe(503);
    expect(res.body.code).toBe("SANDBOX_UNAVAILABLE");
    expect(await forkServersSettled((pids) => pids.length === 0)).toEqual([]);
  });

  it("a fork server is replaced once it is older than its age limit", async () => {
    const app = await forkServerApp({ maxAgeMs: 3000 });
    expect((await execute(app, HELLO)).status).toBe(200);
    const [first] = await forkServers();
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect((await execute(app, HELLO)).status).toBe(200);
    const last = await forkServersSettled((pids) => !pids.includes(first!));
    expect(last).toHaveLength(1);
    expect(last).not.toContain(first);
  });

  it("an idle fork server is renewed at its age limit without a request: its successor, with its spares, serves the next one", {
    timeout: testTimeout(0, 40_000),
  }, async () => {
    // Longer than a fork server takes to start, or each would be too old once ready.
    const app = await forkServerApp({ maxAgeMs: Number(slowed(6000)), spares: 1 });
    expect((await execute(app, HELLO)).status).toBe(200);
    const [first] = await forkServers();
    // It is stopped at its age limit, likely before its successor has done its imports (which
    // take long on an emulated CPU): the successor's spare comes once they are done.
    const renewed = await forkServersSettled((pids) => pids.length === 1 && !pids.includes(first!), scaled(15_000));
    expect(renewed).toHaveLength(1);
    expect(renewed).not.toContain(first);
    // A spare is a child of its fork server some time before it is ready (on an emulated CPU,
    // seconds): a request sent meanwhile gets a process forked for it.
    await sparesReady(1, scaled(15_000));
    const [spare] = await childrenOf(renewed[0]!, 1);
    expect(spare).toBeDefined();
    const mark = `run-${uniqueMarker()}`;
    const pending = execute(app, `import time\n\ndef main():\n    open("${mark}", "w").close()\n    time.sleep(1)\n    return 7\n`);
    expect((await processesOfRun(mark)).map(({ pid }) => pid)).toEqual([spare]);
    expect((await pending).body.result).toBe(7);
  });
});
