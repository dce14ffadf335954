// `npm run bench`: latency and throughput of the service against the cost of a fresh
// interpreter, measured in the same run so the figures are comparable as ratios.
// Starts the built server itself, once per configuration, on a loopback port.
// Also reports the memory of an idle fork server and of one of its running children.

import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { execa } from "execa";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const python = join(root, ".venv", "bin", "python");
/** First of the loopback ports the servers listen on (one per configuration). */
const PORT = Number(process.env.BENCH_PORT ?? 18_765);

const SCRIPTS = {
  hello: 'def main():\n    return {"hello": "world"}\n',
  // The pandas example of the seed documents.
  pandas:
    'import numpy as np\nimport pandas as pd\n\ndef main():\n    print("Calculating...")\n    s = pd.Series([1, 3, 5, np.nan, 6, 8])\n    print(f"Series length: {len(s)}")\n    return {"total": float(s.sum()), "count": int(s.count())}\n',
} as const;

/**
 * The request bodies measured. "pandas with data" is the pandas script's work with its data
 * coming in as args and an input file, and a CSV going out: the cost of those features when used.
 */
const REQUESTS = {
  hello: { script: SCRIPTS.hello },
  pandas: { script: SCRIPTS.pandas },
  "pandas with data": {
    script:
      'import pandas as pd\n\ndef main(column):\n    df = pd.read_csv("in.csv")\n    df.to_csv("out.csv")\n    return {"mean": float(df[column].mean()), "sum": float(df["y"].sum())}\n',
    args: { column: "x" },
    files: [{ path: "in.csv", content: "x,y\n1,4.0\n2,5.0\n3,6.0\n" }],
  },
} as const;
type RequestName = keyof typeof REQUESTS;

const LOW_LOAD = { ratePerSecond: 2, requests: Number(process.env.BENCH_LOW_REQUESTS ?? 10) };
const SATURATION = { connections: 4, seconds: Number(process.env.BENCH_SAT_SECONDS ?? 5) };
/** Requests sent one after the other, each as soon as the last one was answered. */
const BACK_TO_BACK = { requests: Number(process.env.BENCH_SEQ_REQUESTS ?? 30) };
const FRESH_RUNS = Number(process.env.BENCH_FRESH_RUNS ?? 5);
/** How long fresh processes are started on every CPU at once, for the rate the machine can start them at. */
const FRESH_RATE_SECONDS = Number(process.env.BENCH_FRESH_RATE_SECONDS ?? 5);
const CPUS = availableParallelism();
/** Every configuration is measured once per round, in turn, so drift in the machine's speed hits all alike. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

interface ServerConfig {
  name: string;
  env: Record<string, string>;
  requests: readonly RequestName[];
  /** Also measure requests sent back to back (the fork server and the pool; a cold jail per request needs no proof of being slow). */
  backToBack?: boolean;
}

const BOTH: readonly RequestName[] = ["hello", "pandas"];

const CONFIGS: ServerConfig[] = [
  { name: "nsjail zygote", env: { SANDBOX_BACKEND: "nsjail", SANDBOX_MODE: "zygote" }, requests: [...BOTH, "pandas with data"], backToBack: true },
  { name: "nsjail cold", env: { SANDBOX_BACKEND: "nsjail", SANDBOX_MODE: "jail-per-run", POOL_SIZE: "0" }, requests: BOTH },
  { name: "nsjail pooled", env: { SANDBOX_BACKEND: "nsjail", SANDBOX_MODE: "jail-per-run" }, requests: [...BOTH, "pandas with data"], backToBack: true },
  // Pre-started sandboxes that import only numpy and pandas, as they did before matplotlib
  // joined the default PRELOAD_MODULES: the pandas script must not notice the difference.
  {
    name: "nsjail pooled, numpy+pandas preloaded",
    env: { SANDBOX_BACKEND: "nsjail", SANDBOX_MODE: "jail-per-run", PRELOAD_MODULES: "numpy,pandas" },
    requests: ["pandas"],
  },
  { name: "subprocess cold", env: { SANDBOX_BACKEND: "subprocess", POOL_SIZE: "0" }, requests: BOTH },
  { name: "subprocess pooled", env: { SANDBOX_BACKEND: "subprocess" }, requests: BOTH },
];

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const runFresh = (args: string[]) => execa(python, args, { env: { OPENBLAS_NUM_THREADS: "1", PATH: "/usr/bin:/bin" }, extendEnv: false });

/** Wall time of fresh interpreter processes, the cost a per-request interpreter pays. */
async function freshProcess(args: string[], runs: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await runFresh(args);
    times.push(performance.now() - started);
  }
  return times;
}

/** Fresh processes per second with one started after another on every CPU at once: the machine's rate of fresh interpreters. */
async function freshProcessRate(args: string[], seconds: number): Promise<number> {
  const deadline = performance.now() + seconds * 1000;
  let finished = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CPUS }, async () => {
      while (performance.now() < deadline) {
        await runFresh(args);
        finished++;
      }
    }),
  );
  return finished / ((performance.now() - started) / 1000);
}

async function waitForHealth(url: string, exited: () => boolean): Promise<Record<string, unknown>> {
  for (let i = 0; i < 600; i++) {
    if (exited()) throw new Error("server exited during start-up");
    try {
      const response = await fetch(`${url}/health`);
      if (response.ok) return (await response.json()) as Record<string, unknown>;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error("server did not become healthy");
}

async function readProc(pid: string, file: string): Promise<string> {
  try {
    return await readFile(`/proc/${pid}/${file}`, "utf8");
  } catch {
    return ""; // gone meanwhile
  }
}

interface ProcessMemory {
  /** Resident set size: every page it maps, shared or not. */
  rss: number;
  /** Proportional set size: shared pages split among the processes that map them. */
  pss: number;
  /** Pages of this process alone (private clean + private dirty). */
  private: number;
}

async function memoryOf(pid: string): Promise<ProcessMemory | undefined> {
  const rollup = await readProc(pid, "smaps_rollup");
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(rollup)?.[1] ?? NaN) * 1024;
  const memory = { rss: kb("Rss"), pss: kb("Pss"), private: kb("Private_Clean") + kb("Private_Dirty") };
  return Number.isNaN(memory.pss) ? undefined : memory;
}

/** Every process below the server, with its parent and command line. */
async function processTree(serverPid: number): Promise<{ pid: string; parent: string; cmdline: string }[]> {
  const parents = new Map<string, string>();
  const pids = (await readdir("/proc")).filter((entry) => /^\d+$/.test(entry));
  for (const pid of pids) {
    const stat = await readProc(pid, "stat");
    parents.set(pid, stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1] ?? "");
  }
  const descends = (pid: string): boolean => {
    for (let p = parents.get(pid); p !== undefined; p = parents.get(p)) if (p === String(serverPid)) return true;
    return false;
  };
  const tree = [];
  for (const pid of pids.filter(descends)) tree.push({ pid, parent: parents.get(pid) ?? "", cmdline: await readProc(pid, "cmdline") });
  return tree;
}

type MemoryFigure = { pss: number; rss: number; processes: number };

const argv0 = (cmdline: string) => cmdline.split("\0")[0] ?? "";
const isNsjail = (cmdline: string) => argv0(cmdline).endsWith("/nsjail");

/**
 * Memory of a server's idle sandboxes: the proportional set size of its pre-started jails
 * (nsjail and the interpreter started with --preload), or of its fork server (nsjail,
 * the fork server's interpreter and the spares it forked ahead).
 */
async function idleMemory(serverPid: number): Promise<MemoryFigure> {
  const tree = await processTree(serverPid);
  // Every process with --preload: the pre-started jails' nsjail and interpreter, or the fork
  // server's nsjail, its interpreter and its spares (forks of it). The fork server shares its
  // pages with its spares, so only their sum tells what the idle family holds.
  const sandbox = (entry: (typeof tree)[number]) => entry.cmdline.includes("\0--preload");
  const figure = { pss: 0, rss: 0, processes: 0 };
  for (const entry of tree.filter(sandbox)) {
    const memory = await memoryOf(entry.pid);
    if (memory) {
      figure.pss += memory.pss;
      figure.rss += memory.rss;
      figure.processes++;
    }
  }
  return figure;
}

/**
 * Memory of one running fork-server child: the run's process (the pandas script, then asleep),
 * a fork of the fork server, sampled while the run goes on.
 */
async function runningChildMemory(server: RunningServer): Promise<ProcessMemory> {
  const script = `${SCRIPTS.pandas}\nimport time\n_main = main\ndef main():\n    value = _main()\n    time.sleep(3)\n    return value\n`;
  const answer = fetch(`${server.url}/execute`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ script }) });
  await sleep(1500);
  const tree = await processTree(server.pid);
  const byPid = new Map(tree.map((entry) => [entry.pid, entry]));
  const children = tree.filter((entry) => {
    const parent = byPid.get(entry.parent);
    return (
      parent !== undefined && !isNsjail(parent.cmdline) && parent.cmdline.includes("\0--child-seccomp\0") && isNsjail(byPid.get(parent.parent)?.cmdline ?? "")
    );
  });
  // The run's process beside the spares waiting for their requests: the one that holds the most.
  let memory: ProcessMemory | undefined;
  for (const child of children) {
    const candidate = await memoryOf(child.pid);
    if (candidate && (!memory || candidate.private > memory.private)) memory = candidate;
  }
  if ((await answer).status !== 200 || !memory) throw new Error("could not sample a running fork-server child");
  return memory;
}

async function load(url: string, request: RequestName, options: Omit<autocannon.Options, "url">) {
  const result = await autocannon({
    url: `${url}/execute`,
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(REQUESTS[request]),
    // A cold jail on a busy machine takes seconds; a request is an error only at the service's own limit.
    timeout: 60,
    ...options,
  });
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${url}: ${result.non2xx} non-2xx answers, ${result.errors} errors`);
  return { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, requestsPerSecond: result.requests.average };
}

interface Measurement {
  p50: number;
  p90: number;
  p99: number;
  saturatedRequestsPerSecond: number;
  /** Latency of requests sent back to back on one connection. */
  backToBackP50: number;
  backToBackP90: number;
}

interface RunningServer {
  config: ServerConfig;
  url: string;
  pid: number;
  stop(): Promise<void>;
}

async function startServer(config: ServerConfig, port: number): Promise<RunningServer> {
  const url = `http://127.0.0.1:${port}`;
  const server = execa("node", [join(root, "dist", "src", "main.js")], {
    env: { ...process.env, PORT: String(port), HOST: "127.0.0.1", API_KEYS: "", ...config.env },
    reject: false,
    stdout: "ignore",
    stderr: "ignore",
  });
  let exited = false;
  void server.then(() => {
    exited = true;
  });
  const health = await waitForHealth(url, () => exited);
  if (health.backend !== config.env.SANDBOX_BACKEND) throw new Error(`${config.name}: the server runs ${String(health.backend)}`);
  if ((config.env.SANDBOX_MODE === "zygote") !== String(health.isolation).includes("fork server")) {
    throw new Error(`${config.name}: the server's sandbox is ${String(health.isolation)}`);
  }
  return {
    config,
    url,
    pid: server.pid!,
    stop: async () => {
      server.kill("SIGTERM");
      await server;
    },
  };
}

async function measure(server: RunningServer, request: RequestName): Promise<Measurement> {
  const low = await load(server.url, request, {
    connections: 1,
    overallRate: LOW_LOAD.ratePerSecond,
    amount: LOW_LOAD.requests,
  });
  const saturated = await load(server.url, request, { connections: SATURATION.connections, duration: SATURATION.seconds });
  await sleep(2000); // let a pool refill before the next measurement
  const backToBack = server.config.backToBack ? await load(server.url, request, { connections: 1, amount: BACK_TO_BACK.requests }) : { p50: NaN, p90: NaN };
  if (server.config.backToBack) await sleep(2000);
  return {
    p50: low.p50,
    p90: low.p90,
    p99: low.p99,
    saturatedRequestsPerSecond: saturated.requestsPerSecond,
    backToBackP50: backToBack.p50,
    backToBackP90: backToBack.p90,
  };
}

interface Fresh {
  /** Median wall time of one process, ms. */
  pythonPass: number;
  pandasScript: number;
  /** Processes per second started one after another on every CPU at once. */
  pythonPassRate: number;
  pandasScriptRate: number;
}

type Round = { fresh: Fresh; servers: Record<string, Partial<Record<RequestName, Measurement>>> };

async function main(): Promise<void> {
  const started = new Date().toISOString();
  const servers: RunningServer[] = [];
  try {
    for (const [index, config] of CONFIGS.entries()) servers.push(await startServer(config, PORT + index));
    await sleep(3000); // let the pools fill
    const idle: Record<string, MemoryFigure> = {};
    for (const server of servers) idle[server.config.name] = await idleMemory(server.pid);
    for (const server of servers) for (const request of server.config.requests) await load(server.url, request, { connections: 1, amount: 3 });
    const running = await runningChildMemory(servers.find((server) => server.config.name === "nsjail zygote")!);
    await sleep(2000);

    const rounds: Round[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      await freshProcess(["-c", "pass"], 1); // warm the page cache
      const pandasArgs = ["-c", `${SCRIPTS.pandas}\nmain()`];
      const fresh: Fresh = {
        pythonPass: median(await freshProcess(["-c", "pass"], FRESH_RUNS)),
        pandasScript: median(await freshProcess(pandasArgs, FRESH_RUNS)),
        pythonPassRate: await freshProcessRate(["-c", "pass"], FRESH_RATE_SECONDS),
        pandasScriptRate: await freshProcessRate(pandasArgs, FRESH_RATE_SECONDS),
      };
      const measured: Round["servers"] = {};
      for (const server of servers) {
        const byScript: Partial<Record<RequestName, Measurement>> = {};
        for (const request of server.config.requests) {
          const m = await measure(server, request);
          byScript[request] = m;
          console.error(
            `round ${round} ${server.config.name.padEnd(38)} ${request.padEnd(16)} p50 ${m.p50} ms  p90 ${m.p90} ms  p99 ${m.p99} ms  saturated ${m.saturatedRequestsPerSecond.toFixed(1)} req/s  back to back p50 ${m.backToBackP50} ms p90 ${m.backToBackP90} ms`,
          );
        }
        measured[server.config.name] = byScript;
      }
      console.error(
        `round ${round} fresh python -c pass ${fresh.pythonPass.toFixed(1)} ms (${fresh.pythonPassRate.toFixed(1)}/s on ${CPUS} CPUs), fresh pandas script ${fresh.pandasScript.toFixed(1)} ms (${fresh.pandasScriptRate.toFixed(1)}/s)`,
      );
      rounds.push({ fresh, servers: measured });
    }
    await report(started, rounds, { idle, runningForkServerChild: running });
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
  }
}

interface MemoryReport {
  idle: Record<string, MemoryFigure>;
  runningForkServerChild: ProcessMemory;
}

/** Ratios are taken within each round (same machine state) and their median is reported. */
function report(started: string, rounds: Round[], memory: MemoryReport) {
  const perRound = (f: (round: Round) => number) => Number(median(rounds.map(f)).toFixed(3));
  const m = (round: Round, config: string, request: RequestName) => round.servers[config]![request]!;
  const ratios = {
    // The fork server against fresh interpreters (the targets: >= 1, >= 10, <= 0.1).
    helloSaturationZygoteOverPythonPassRate: perRound((r) => m(r, "nsjail zygote", "hello").saturatedRequestsPerSecond / r.fresh.pythonPassRate),
    pandasSaturationZygoteOverFreshPandasRate: perRound((r) => m(r, "nsjail zygote", "pandas").saturatedRequestsPerSecond / r.fresh.pandasScriptRate),
    pandasBackToBackP90ZygoteOverFreshPandas: perRound((r) => m(r, "nsjail zygote", "pandas").backToBackP90 / r.fresh.pandasScript),
    // The same for a jail per run with its pool, the other mode.
    helloSaturationPooledOverPythonPassRate: perRound((r) => m(r, "nsjail pooled", "hello").saturatedRequestsPerSecond / r.fresh.pythonPassRate),
    pandasSaturationPooledOverFreshPandasRate: perRound((r) => m(r, "nsjail pooled", "pandas").saturatedRequestsPerSecond / r.fresh.pandasScriptRate),
    pandasBackToBackP90PooledOverFreshPandas: perRound((r) => m(r, "nsjail pooled", "pandas").backToBackP90 / r.fresh.pandasScript),
    // Latency at low load.
    pandasZygoteP50OverFreshPandas: perRound((r) => m(r, "nsjail zygote", "pandas").p50 / r.fresh.pandasScript),
    helloZygoteP50OverPythonPass: perRound((r) => m(r, "nsjail zygote", "hello").p50 / r.fresh.pythonPass),
    pandasPooledP50OverFreshPandas: perRound((r) => m(r, "nsjail pooled", "pandas").p50 / r.fresh.pandasScript),
    pandasColdP50OverFreshPandas: perRound((r) => m(r, "nsjail cold", "pandas").p50 / r.fresh.pandasScript),
    subprocessPandasPooledP50OverFreshPandas: perRound((r) => m(r, "subprocess pooled", "pandas").p50 / r.fresh.pandasScript),
    // 1 within the noise: preloading matplotlib too does not slow the pandas script.
    pandasPooledP50DefaultPreloadOverNumpyPandasPreload: perRound(
      (r) => m(r, "nsjail pooled", "pandas").p50 / m(r, "nsjail pooled, numpy+pandas preloaded", "pandas").p50,
    ),
    // The same work with its data as args and an input file, and a CSV written and returned.
    pandasWithDataOverPandasPooledP50: perRound((r) => m(r, "nsjail pooled", "pandas with data").p50 / m(r, "nsjail pooled", "pandas").p50),
  };
  const summary: Record<string, Record<string, Measurement>> = {};
  for (const config of CONFIGS) {
    summary[config.name] = {};
    for (const request of config.requests) {
      const all = rounds.map((r) => m(r, config.name, request));
      const mid = (f: (x: Measurement) => number) => median(all.map(f));
      summary[config.name]![request] = {
        p50: mid((x) => x.p50),
        p90: mid((x) => x.p90),
        p99: mid((x) => x.p99),
        saturatedRequestsPerSecond: Number(mid((x) => x.saturatedRequestsPerSecond).toFixed(1)),
        backToBackP50: mid((x) => x.backToBackP50),
        backToBackP90: mid((x) => x.backToBackP90),
      };
    }
  }
  const fresh = {
    pythonPassP50: Number(median(rounds.map((r) => r.fresh.pythonPass)).toFixed(1)),
    pandasScriptP50: Number(median(rounds.map((r) => r.fresh.pandasScript)).toFixed(1)),
    pythonPassPerSecond: Number(median(rounds.map((r) => r.fresh.pythonPassRate)).toFixed(1)),
    pandasScriptPerSecond: Number(median(rounds.map((r) => r.fresh.pandasScriptRate)).toFixed(1)),
  };
  const mib = (bytes: number) => (bytes / 1048576).toFixed(1);

  const table: string[] = [
    "",
    `medians over ${rounds.length} rounds`,
    "| configuration | script | p50 ms | p90 ms | p99 ms | saturated req/s | back to back p50 / p90 ms |",
    "|---|---|---|---|---|---|---|",
  ];
  for (const [name, byScript] of Object.entries(summary)) {
    for (const [script, x] of Object.entries(byScript)) {
      table.push(`| ${name} | ${script} | ${x.p50} | ${x.p90} | ${x.p99} | ${x.saturatedRequestsPerSecond} | ${x.backToBackP50} / ${x.backToBackP90} |`);
    }
  }
  table.push(`| fresh process | python -c pass | ${fresh.pythonPassP50} | | | ${fresh.pythonPassPerSecond} on ${CPUS} CPUs | |`);
  table.push(`| fresh process | pandas script | ${fresh.pandasScriptP50} | | | ${fresh.pandasScriptPerSecond} on ${CPUS} CPUs | |`);
  table.push("", "ratios (median of per-round ratios):");
  for (const [name, value] of Object.entries(ratios)) table.push(`  ${name}: ${value}`);
  table.push("", "idle sandbox memory (nsjail and the pre-started interpreters, or nsjail and the fork server):");
  for (const [name, { pss, rss, processes }] of Object.entries(memory.idle)) {
    table.push(`  ${name}: PSS ${mib(pss)} MiB, RSS ${mib(rss)} MiB in ${processes} processes`);
  }
  const child = memory.runningForkServerChild;
  table.push("", `a running fork-server child (the pandas script): private ${mib(child.private)} MiB, PSS ${mib(child.pss)} MiB, RSS ${mib(child.rss)} MiB`);
  console.log(table.join("\n"));

  const output = join(root, "bench", "results.json");
  return mkdir(dirname(output), { recursive: true }).then(() =>
    writeFile(
      output,
      `${JSON.stringify(
        {
          started,
          cpus: CPUS,
          load: {
            lowLoad: LOW_LOAD,
            saturation: SATURATION,
            backToBack: BACK_TO_BACK,
            freshRuns: FRESH_RUNS,
            freshRateSeconds: FRESH_RATE_SECONDS,
            rounds: ROUNDS,
          },
          ratios,
          summary,
          fresh,
          memory,
          rounds,
        },
        null,
        2,
      )}\n`,
    ).then(() => console.log(`\nwrote ${output}`)),
  );
}

await main();
