// `npm run bench`: latency and throughput of the service against the cost of a fresh
// interpreter, measured in the same run so the figures are comparable as ratios.
// Starts the built server itself, once per configuration, on a loopback port.
import autocannon from "autocannon";
import { execa } from "execa";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const python = join(root, ".venv", "bin", "python");
/** First of the loopback ports the servers listen on (one per configuration). */
const PORT = Number(process.env.BENCH_PORT ?? 18_765);

const SCRIPTS = {
  hello: 'def main():\n    return {"hello": "world"}\n',
  pandas:
    'import pandas as pd\n\ndef main():\n    df = pd.DataFrame({"x": [1, 2, 3], "y": [4.0, 5.0, 6.0]})\n    return {"mean": float(df["x"].mean()), "sum": float(df["y"].sum())}\n',
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
const FRESH_RUNS = Number(process.env.BENCH_FRESH_RUNS ?? 5);
/** Every configuration is measured once per round, in turn, so drift in the machine's speed hits all alike. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

interface ServerConfig {
  name: string;
  env: Record<string, string>;
  requests: readonly RequestName[];
}

const BOTH: readonly RequestName[] = ["hello", "pandas"];

const CONFIGS: ServerConfig[] = [
  { name: "nsjail cold", env: { SANDBOX_BACKEND: "nsjail", POOL_SIZE: "0" }, requests: BOTH },
  { name: "nsjail pooled", env: { SANDBOX_BACKEND: "nsjail" }, requests: [...BOTH, "pandas with data"] },
  // Pre-started sandboxes that import only numpy and pandas, as they did before matplotlib
  // joined the default PRELOAD_MODULES: the pandas script must not notice the difference.
  { name: "nsjail pooled, numpy+pandas preloaded", env: { SANDBOX_BACKEND: "nsjail", PRELOAD_MODULES: "numpy,pandas" }, requests: ["pandas"] },
  { name: "subprocess cold", env: { SANDBOX_BACKEND: "subprocess", POOL_SIZE: "0" }, requests: BOTH },
  { name: "subprocess pooled", env: { SANDBOX_BACKEND: "subprocess" }, requests: BOTH },
];

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Wall time of fresh interpreter processes, the cost a per-request interpreter pays. */
async function freshProcess(args: string[], runs: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await execa(python, args, { env: { OPENBLAS_NUM_THREADS: "1", PATH: "/usr/bin:/bin" }, extendEnv: false });
    times.push(performance.now() - started);
  }
  return times;
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

/** Proportional set size of a server's waiting sandboxes: its descendants started with --preload. */
async function poolMemoryBytes(serverPid: number): Promise<{ bytes: number; processes: number }> {
  const parents = new Map<number, number>();
  const pids = (await readdir("/proc")).filter((entry) => /^\d+$/.test(entry));
  for (const pid of pids) {
    const stat = await readProc(pid, "stat");
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    if (ppid) parents.set(Number(pid), ppid);
  }
  const descends = (pid: number): boolean => {
    for (let p = parents.get(pid); p !== undefined; p = parents.get(p)) if (p === serverPid) return true;
    return false;
  };
  let bytes = 0;
  let processes = 0;
  for (const pid of pids) {
    if (!descends(Number(pid)) || !(await readProc(pid, "cmdline")).includes("--preload")) continue;
    const pss = /^Pss:\s+(\d+) kB/m.exec(await readProc(pid, "smaps_rollup"));
    if (pss) {
      bytes += Number(pss[1]) * 1024;
      processes++;
    }
  }
  return { bytes, processes };
}

async function load(url: string, request: RequestName, options: Omit<autocannon.Options, "url">) {
  const result = await autocannon({
    url: `${url}/execute`,
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(REQUESTS[request]),
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
  return { p50: low.p50, p90: low.p90, p99: low.p99, saturatedRequestsPerSecond: saturated.requestsPerSecond };
}

type Round = { fresh: { pythonPass: number; pandasScript: number }; servers: Record<string, Partial<Record<RequestName, Measurement>>> };

async function main(): Promise<void> {
  const started = new Date().toISOString();
  const servers: RunningServer[] = [];
  try {
    for (const [index, config] of CONFIGS.entries()) servers.push(await startServer(config, PORT + index));
    await sleep(3000); // let the pools fill
    const idleMemory: Record<string, { bytes: number; processes: number }> = {};
    for (const server of servers) idleMemory[server.config.name] = await poolMemoryBytes(server.pid);
    for (const server of servers) for (const request of server.config.requests) await load(server.url, request, { connections: 1, amount: 3 });
    await sleep(2000);

    const rounds: Round[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      await freshProcess(["-c", "pass"], 1); // warm the page cache
      const fresh = {
        pythonPass: median(await freshProcess(["-c", "pass"], FRESH_RUNS)),
        pandasScript: median(await freshProcess(["-c", `${SCRIPTS.pandas}\nmain()`], FRESH_RUNS)),
      };
      const measured: Round["servers"] = {};
      for (const server of servers) {
        const byScript: Partial<Record<RequestName, Measurement>> = {};
        for (const request of server.config.requests) {
          const m = await measure(server, request);
          byScript[request] = m;
          console.error(
            `round ${round} ${server.config.name.padEnd(38)} ${request.padEnd(16)} p50 ${m.p50} ms  p90 ${m.p90} ms  p99 ${m.p99} ms  saturated ${m.saturatedRequestsPerSecond.toFixed(1)} req/s`,
          );
        }
        measured[server.config.name] = byScript;
      }
      console.error(`round ${round} fresh python -c pass ${fresh.pythonPass.toFixed(1)} ms, fresh pandas script ${fresh.pandasScript.toFixed(1)} ms`);
      rounds.push({ fresh, servers: measured });
    }
    await report(started, rounds, idleMemory);
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
  }
}

/** Ratios are taken within each round (same machine state) and their median is reported. */
function report(started: string, rounds: Round[], idleMemory: Record<string, { bytes: number; processes: number }>) {
  const perRound = (f: (round: Round) => number) => Number(median(rounds.map(f)).toFixed(3));
  const m = (round: Round, config: string, request: RequestName) => round.servers[config]![request]!;
  const ratios = {
    pandasPooledP50OverFreshPandas: perRound((r) => m(r, "nsjail pooled", "pandas").p50 / r.fresh.pandasScript),
    helloPooledP50OverPythonPass: perRound((r) => m(r, "nsjail pooled", "hello").p50 / r.fresh.pythonPass),
    pandasColdP50OverFreshPandas: perRound((r) => m(r, "nsjail cold", "pandas").p50 / r.fresh.pandasScript),
    saturationPooledOverColdHello: perRound(
      (r) => m(r, "nsjail pooled", "hello").saturatedRequestsPerSecond / m(r, "nsjail cold", "hello").saturatedRequestsPerSecond,
    ),
    saturationPooledOverColdPandas: perRound(
      (r) => m(r, "nsjail pooled", "pandas").saturatedRequestsPerSecond / m(r, "nsjail cold", "pandas").saturatedRequestsPerSecond,
    ),
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
      summary[config.name]![request] = {
        p50: median(all.map((x) => x.p50)),
        p90: median(all.map((x) => x.p90)),
        p99: median(all.map((x) => x.p99)),
        saturatedRequestsPerSecond: Number(median(all.map((x) => x.saturatedRequestsPerSecond)).toFixed(1)),
      };
    }
  }
  const fresh = {
    pythonPassP50: Number(median(rounds.map((r) => r.fresh.pythonPass)).toFixed(1)),
    pandasScriptP50: Number(median(rounds.map((r) => r.fresh.pandasScript)).toFixed(1)),
  };

  const table: string[] = [
    "",
    `medians over ${rounds.length} rounds`,
    "| configuration | script | p50 ms | p90 ms | p99 ms | saturated req/s |",
    "|---|---|---|---|---|---|",
  ];
  for (const [name, byScript] of Object.entries(summary)) {
    for (const [script, x] of Object.entries(byScript)) {
      table.push(`| ${name} | ${script} | ${x.p50} | ${x.p90} | ${x.p99} | ${x.saturatedRequestsPerSecond} |`);
    }
  }
  table.push(`| fresh process | python -c pass | ${fresh.pythonPassP50} | | | |`);
  table.push(`| fresh process | pandas script | ${fresh.pandasScriptP50} | | | |`);
  table.push("", "ratios (median of per-round ratios):");
  for (const [name, value] of Object.entries(ratios)) table.push(`  ${name}: ${value}`);
  table.push("", "idle pool memory (PSS of the waiting sandboxes):");
  for (const [name, { bytes, processes }] of Object.entries(idleMemory)) {
    table.push(`  ${name}: ${(bytes / 1048576).toFixed(1)} MiB in ${processes} processes`);
  }
  console.log(table.join("\n"));

  const output = join(root, "bench", "results.json");
  return mkdir(dirname(output), { recursive: true }).then(() =>
    writeFile(
      output,
      `${JSON.stringify(
        { started, load: { lowLoad: LOW_LOAD, saturation: SATURATION, freshRuns: FRESH_RUNS, rounds: ROUNDS }, ratios, summary, fresh, idleMemory, rounds },
        null,
        2,
      )}\n`,
    ).then(() => console.log(`\nwrote ${output}`)),
  );
}

await main();
