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
const PORT = 18_765;

const SCRIPTS = {
  hello: 'def main():\n    return {"hello": "world"}\n',
  pandas:
    'import pandas as pd\n\ndef main():\n    df = pd.DataFrame({"x": [1, 2, 3], "y": [4.0, 5.0, 6.0]})\n    return {"mean": float(df["x"].mean()), "sum": float(df["y"].sum())}\n',
} as const;
type ScriptName = keyof typeof SCRIPTS;

const LOW_LOAD = { ratePerSecond: 2, seconds: Number(process.env.BENCH_LOW_SECONDS ?? 10) };
const SATURATION = { connections: 4, seconds: Number(process.env.BENCH_SAT_SECONDS ?? 10) };
const FRESH_RUNS = Number(process.env.BENCH_FRESH_RUNS ?? 15);

interface ServerConfig {
  name: string;
  env: Record<string, string>;
}

const CONFIGS: ServerConfig[] = [
  { name: "nsjail cold", env: { SANDBOX_BACKEND: "nsjail", POOL_SIZE: "0" } },
  { name: "nsjail pooled", env: { SANDBOX_BACKEND: "nsjail" } },
  { name: "subprocess cold", env: { SANDBOX_BACKEND: "subprocess", POOL_SIZE: "0" } },
  { name: "subprocess pooled", env: { SANDBOX_BACKEND: "subprocess" } },
];

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
};

/** Wall time of fresh interpreter processes, the cost a per-request interpreter pays. */
async function freshProcess(args: string[]): Promise<{ p50: number; p90: number; runs: number }> {
  const times: number[] = [];
  for (let i = 0; i < FRESH_RUNS + 1; i++) {
    const started = performance.now();
    await execa(python, args, { env: { OPENBLAS_NUM_THREADS: "1", PATH: "/usr/bin:/bin" }, extendEnv: false });
    if (i > 0) times.push(performance.now() - started); // the first run warms the page cache
  }
  return { p50: median(times), p90: percentile(times, 90), runs: times.length };
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
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error("server did not become healthy");
}

/** Proportional set size of the pool's waiting sandboxes (every process started with --preload). */
async function poolMemoryBytes(): Promise<{ bytes: number; processes: number }> {
  let bytes = 0;
  let processes = 0;
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8");
      if (!cmdline.includes("--preload")) continue;
      const rollup = await readFile(`/proc/${entry}/smaps_rollup`, "utf8");
      const pss = /^Pss:\s+(\d+) kB/m.exec(rollup);
      if (pss) {
        bytes += Number(pss[1]) * 1024;
        processes++;
      }
    } catch {
      // gone meanwhile
    }
  }
  return { bytes, processes };
}

async function load(url: string, script: ScriptName, options: Omit<autocannon.Options, "url">) {
  const result = await autocannon({
    url: `${url}/execute`,
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ script: SCRIPTS[script] }),
    ...options,
  });
  return {
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    requestsPerSecond: result.requests.average,
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

async function benchServer(config: ServerConfig) {
  const url = `http://127.0.0.1:${PORT}`;
  const server = execa("node", [join(root, "dist", "src", "main.js")], {
    env: { ...process.env, PORT: String(PORT), HOST: "127.0.0.1", ...config.env },
    reject: false,
    stdout: "ignore",
    stderr: "ignore",
  });
  let exited = false;
  void server.then(() => {
    exited = true;
  });
  try {
    const health = await waitForHealth(url, () => exited);
    if (health.backend !== config.env.SANDBOX_BACKEND) {
      throw new Error(`${config.name}: the server runs ${String(health.backend)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 3000)); // let the pool fill
    const idle = await poolMemoryBytes();
    const results: Record<string, unknown> = { idlePoolMemoryBytes: idle.bytes, idlePoolProcesses: idle.processes };
    for (const script of Object.keys(SCRIPTS) as ScriptName[]) {
      await load(url, script, { connections: 1, amount: 3 }); // warm-up
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const low = await load(url, script, {
        connections: 1,
        overallRate: LOW_LOAD.ratePerSecond,
        amount: LOW_LOAD.ratePerSecond * LOW_LOAD.seconds,
      });
      const saturated = await load(url, script, { connections: SATURATION.connections, duration: SATURATION.seconds });
      results[script] = { lowLoad: low, saturation: saturated };
      console.error(
        `${config.name.padEnd(18)} ${script.padEnd(7)} p50 ${low.p50} ms  p90 ${low.p90} ms  p99 ${low.p99} ms  saturated ${saturated.requestsPerSecond.toFixed(1)} req/s` +
          (low.non2xx + saturated.non2xx > 0 ? `  (non-2xx: ${low.non2xx + saturated.non2xx})` : ""),
      );
    }
    return results;
  } finally {
    server.kill("SIGTERM");
    await server;
  }
}

async function main(): Promise<void> {
  const started = new Date().toISOString();
  console.error("fresh interpreter baselines ...");
  const fresh = {
    pythonPass: await freshProcess(["-c", "pass"]),
    pandasScript: await freshProcess(["-c", `${SCRIPTS.pandas}\nmain()`]),
  };
  console.error(`fresh python -c pass p50 ${fresh.pythonPass.p50.toFixed(1)} ms; fresh pandas script p50 ${fresh.pandasScript.p50.toFixed(1)} ms`);

  const servers: Record<string, any> = {};
  for (const config of CONFIGS) servers[config.name] = await benchServer(config);

  const ratio = (a: number, b: number) => Number((a / b).toFixed(3));
  const ratios = {
    pandasPooledP50OverFreshPandas: ratio(servers["nsjail pooled"].pandas.lowLoad.p50, fresh.pandasScript.p50),
    helloPooledP50OverPythonPass: ratio(servers["nsjail pooled"].hello.lowLoad.p50, fresh.pythonPass.p50),
    pandasColdP50OverFreshPandas: ratio(servers["nsjail cold"].pandas.lowLoad.p50, fresh.pandasScript.p50),
    saturationPooledOverColdHello: ratio(
      servers["nsjail pooled"].hello.saturation.requestsPerSecond,
      servers["nsjail cold"].hello.saturation.requestsPerSecond,
    ),
    saturationPooledOverColdPandas: ratio(
      servers["nsjail pooled"].pandas.saturation.requestsPerSecond,
      servers["nsjail cold"].pandas.saturation.requestsPerSecond,
    ),
    subprocessPandasPooledP50OverFreshPandas: ratio(servers["subprocess pooled"].pandas.lowLoad.p50, fresh.pandasScript.p50),
  };

  const table: string[] = [
    "",
    "| configuration | script | p50 ms | p90 ms | p99 ms | saturated req/s |",
    "|---|---|---|---|---|---|",
  ];
  for (const [name, result] of Object.entries(servers)) {
    for (const script of Object.keys(SCRIPTS)) {
      const { lowLoad, saturation } = result[script];
      table.push(`| ${name} | ${script} | ${lowLoad.p50} | ${lowLoad.p90} | ${lowLoad.p99} | ${saturation.requestsPerSecond.toFixed(1)} |`);
    }
  }
  table.push(`| fresh process | python -c pass | ${fresh.pythonPass.p50.toFixed(1)} | ${fresh.pythonPass.p90.toFixed(1)} | | |`);
  table.push(`| fresh process | pandas script | ${fresh.pandasScript.p50.toFixed(1)} | ${fresh.pandasScript.p90.toFixed(1)} | | |`);
  table.push("");
  for (const [name, value] of Object.entries(ratios)) table.push(`${name}: ${value}`);
  for (const [name, result] of Object.entries(servers)) {
    table.push(`idle pool memory (${name}): ${(result.idlePoolMemoryBytes / 1048576).toFixed(1)} MiB PSS in ${result.idlePoolProcesses} processes`);
  }
  console.log(table.join("\n"));

  const output = join(root, "bench", "results.json");
  await mkdir(dirname(output), { recursive: true });
  await writeFile(
    output,
    `${JSON.stringify({ started, load: { lowLoad: LOW_LOAD, saturation: SATURATION, freshRuns: FRESH_RUNS }, fresh, servers, ratios }, null, 2)}\n`,
  );
  console.log(`\nwrote ${output}`);
}

await main();
