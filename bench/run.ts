// `npm run bench`: latency and throughput of the service against the cost of a fresh
// interpreter, measured in the same run so the figures are comparable as ratios.
// Starts the built server itself, once per configuration, on a loopback port (BENCH_CONFIGS names
// some of them; their figures then go to bench/results.partial.json).
// Also reports the memory of an idle fork server and of one of its running children, and for
// sessions (POST /sessions): the time to create one, the time of a one-line cell in one, and
// the memory an idle session holds.

import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { Agent, request as httpRequest } from "node:http";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { execa } from "execa";
import { npmStartArgs } from "./npm-start.ts";
import PANDAS_EXAMPLE from "./pandas-example.json" with { type: "json" };

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const python = join(root, ".venv", "bin", "python");
/** First of the loopback ports the servers listen on (one per configuration). */
const PORT = Number(process.env.BENCH_PORT ?? 18_765);

const SCRIPTS = {
  hello: 'def main():\n    return {"hello": "world"}\n',
  pandas: PANDAS_EXAMPLE.script,
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
/**
 * Sessions, back to back on one connection: `creates` times POST /sessions (each followed by its
 * DELETE, untimed), `cells` one-line cells in one open session, and `idle` sessions held open
 * at once for the memory an idle session holds.
 */
const SESSIONS = {
  creates: Number(process.env.BENCH_SESSION_CREATES ?? BACK_TO_BACK.requests),
  cells: Number(process.env.BENCH_SESSION_CELLS ?? BACK_TO_BACK.requests),
  idle: Number(process.env.BENCH_IDLE_SESSIONS ?? 4),
};
/** After the rounds: this many requests, the three kinds in turn, on this many connections; then the server's RSS. */
const SOAK = { requests: Number(process.env.BENCH_SOAK_REQUESTS ?? 2400), connections: 4 };
/** The run-cost targets the bench checks, each a median of per-round ratios (the soak: one figure, MiB). */
const RUN_COST_TARGETS = [
  { ratio: "helloSaturationZygoteOverPythonPassRate", what: "hello at saturation / fresh python -c pass processes", atLeast: 2 },
  { ratio: "helloBackToBackP50ZygoteOverPythonPass", what: "hello back to back p50 / one fresh python -c pass", atMost: 0.33 },
  { ratio: "pandasSaturationZygoteOverFreshPandasRate", what: "pandas at saturation / fresh pandas processes", atLeast: 25 },
  { ratio: "pandasBackToBackP90ZygoteOverFreshPandas", what: "pandas back to back p90 / one fresh pandas process", atMost: 0.05 },
] as const;
const SOAK_RSS_TARGET_MIB = 200;
/** The cell timed back to back. */
const ONE_LINE_CELL = "1 + 1";
/** What each idle session ran before its memory is read: a few cells, one of them touching pandas. */
const WARM_CELLS = ["x = 1 + 1", 'import pandas as pd\ndf = pd.DataFrame({"a": [1, 2, 3]})', "x + len(df)"];

interface ServerConfig {
  name: string;
  env: Record<string, string>;
  requests: readonly RequestName[];
  /** Also measure requests sent back to back (the fork server and the pool; a cold jail per request needs no proof of being slow). */
  backToBack?: boolean;
  /** Also measure sessions (against the hello sent back to back, so only with `backToBack`). */
  sessions?: boolean;
}

const BOTH: readonly RequestName[] = ["hello", "pandas"];

const ALL_CONFIGS: ServerConfig[] = [
  {
    name: "nsjail zygote",
    env: { SANDBOX_BACKEND: "nsjail", SANDBOX_MODE: "zygote" },
    requests: [...BOTH, "pandas with data"],
    backToBack: true,
    sessions: true,
  },
  { name: "nsjail cold", env: { SANDBOX_BACKEND: "nsjail", SANDBOX_MODE: "jail-per-run", POOL_SIZE: "0" }, requests: BOTH },
  {
    name: "nsjail pooled",
    env: { SANDBOX_BACKEND: "nsjail", SANDBOX_MODE: "jail-per-run" },
    requests: [...BOTH, "pandas with data"],
    backToBack: true,
    sessions: true,
  },
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

/** BENCH_CONFIGS: the names of the configurations to measure, comma-separated (default: all). */
const CONFIGS = process.env.BENCH_CONFIGS ? ALL_CONFIGS.filter((config) => process.env.BENCH_CONFIGS?.split(",").includes(config.name)) : ALL_CONFIGS;

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** Nearest-rank percentile (p in 0..1). */
const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!;
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
  const server = execa("node", npmStartArgs(root), {
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

/** One keep-alive connection per server, as autocannon's back-to-back requests use. */
const sessionAgent = new Agent({ keepAlive: true, maxSockets: 1 });

/** One request on the keep-alive connection: its status, body and wall time from send to the last byte. */
function call(url: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: string; ms: number }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers: Record<string, string | number> =
    payload === undefined ? {} : { "content-type": "application/json", "content-length": Buffer.byteLength(payload) };
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const request = httpRequest(`${url}${path}`, { method, agent: sessionAgent, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("error", reject);
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString(), ms: performance.now() - started }));
    });
    request.on("error", reject);
    request.end(payload);
  });
}

async function expectStatus(answer: Promise<{ status: number; body: string; ms: number }>, status: number, what: string) {
  const result = await answer;
  if (result.status !== status) throw new Error(`${what}: ${result.status} ${result.body.slice(0, 500)}`);
  return result;
}

const openSession = async (url: string) => {
  const created = await expectStatus(call(url, "POST", "/sessions", {}), 201, "POST /sessions");
  return { id: (JSON.parse(created.body) as { id: string }).id, ms: created.ms };
};
const closeSession = (url: string, id: string) => expectStatus(call(url, "DELETE", `/sessions/${id}`), 204, "DELETE /sessions/{id}");
const runCell = (url: string, id: string, code: string) =>
  expectStatus(call(url, "POST", `/sessions/${id}/execute`, { code }), 200, `cell ${JSON.stringify(code)}`);

/** The processes below the server once its pool is quiet: 3 s, then until their number holds for 1 s (20 s at most). */
async function settledTree(serverPid: number): Promise<Awaited<ReturnType<typeof processTree>>> {
  await sleep(3000);
  let tree = await processTree(serverPid);
  for (let waited = 0; waited < 20_000; waited += 1000) {
    await sleep(1000);
    const now = await processTree(serverPid);
    if (now.length === tree.length) return now;
    tree = now;
  }
  return tree;
}

const pidsBelow = async (serverPid: number) => new Set((await processTree(serverPid)).map((entry) => entry.pid));

interface SessionMeasurement {
  /** POST /sessions, back to back (each session deleted before the next is created). */
  createP50: number;
  createP90: number;
  /** A one-line cell (`1 + 1`) in one open session, back to back; the session's first cell is apart. */
  cellP50: number;
  cellP90: number;
  firstCell: number;
  /** The stateless hello sent back to back with the same client: a check on autocannon's figure. */
  helloSameClientP50: number;
  helloSameClientP90: number;
  /** The same hellos while `SESSIONS.idle` idle sessions are open. */
  helloWithIdleSessionsP50: number;
  helloWithIdleSessionsP90: number;
  /**
   * What one idle session's processes hold after a few cells, with `SESSIONS.idle` sessions open:
   * the processes that are gone when its DELETE returns, read before the first DELETE, summed,
   * averaged over the sessions. (Not the processes that appear at POST /sessions: a session takes
   * a spare, or a pre-started jail, and the pool forks or starts its replacement.)
   */
  idleSession: { pss: number; rss: number; private: number; processes: number };
}

const round1 = (x: number) => Number(x.toFixed(1));

async function backToBackHellos(url: string): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < BACK_TO_BACK.requests; i++) times.push((await expectStatus(call(url, "POST", "/execute", REQUESTS.hello), 200, "hello")).ms);
  return times;
}

async function measureSessions(server: RunningServer): Promise<SessionMeasurement> {
  const { url } = server;

  const creates: number[] = [];
  for (let i = 0; i < SESSIONS.creates; i++) {
    const session = await openSession(url);
    creates.push(session.ms);
    await closeSession(url, session.id);
  }
  await sleep(2000); // let a pool refill

  const session = await openSession(url);
  const first = await runCell(url, session.id, ONE_LINE_CELL);
  if ((JSON.parse(first.body) as { result: unknown }).result !== 2) throw new Error(`cell ${ONE_LINE_CELL}: ${first.body}`);
  const cells: number[] = [];
  for (let i = 0; i < SESSIONS.cells; i++) cells.push((await runCell(url, session.id, ONE_LINE_CELL)).ms);
  await closeSession(url, session.id);
  await sleep(2000);

  const hellos = await backToBackHellos(url);

  const open: string[] = [];
  try {
    for (let i = 0; i < SESSIONS.idle; i++) {
      const { id } = await openSession(url);
      open.push(id);
      for (const code of WARM_CELLS) await runCell(url, id, code);
    }
    const memory = new Map<string, ProcessMemory>();
    for (const entry of await settledTree(server.pid)) {
      const figure = await memoryOf(entry.pid);
      if (figure) memory.set(entry.pid, figure);
    }
    const hellosWithSessions = await backToBackHellos(url);
    await settledTree(server.pid);
    const held = { pss: 0, rss: 0, private: 0, processes: 0 };
    while (open.length > 0) {
      const before = await pidsBelow(server.pid);
      await closeSession(url, open[0]!);
      open.shift();
      const after = await pidsBelow(server.pid);
      for (const pid of before) {
        const figure = memory.get(pid);
        if (after.has(pid) || !figure) continue;
        held.pss += figure.pss;
        held.rss += figure.rss;
        held.private += figure.private;
        held.processes++;
      }
    }
    const per = (bytes: number) => bytes / SESSIONS.idle;
    return {
      createP50: round1(median(creates)),
      createP90: round1(percentile(creates, 0.9)),
      cellP50: round1(median(cells)),
      cellP90: round1(percentile(cells, 0.9)),
      firstCell: round1(first.ms),
      helloSameClientP50: round1(median(hellos)),
      helloSameClientP90: round1(percentile(hellos, 0.9)),
      helloWithIdleSessionsP50: round1(median(hellosWithSessions)),
      helloWithIdleSessionsP90: round1(percentile(hellosWithSessions, 0.9)),
      idleSession: { pss: per(held.pss), rss: per(held.rss), private: per(held.private), processes: per(held.processes) },
    };
  } finally {
    for (const id of open) await closeSession(url, id);
    await sleep(2000);
  }
}

interface Fresh {
  /** Median wall time of one process, ms. */
  pythonPass: number;
  pandasScript: number;
  /** Processes per second started one after another on every CPU at once. */
  pythonPassRate: number;
  pandasScriptRate: number;
}

type Round = { fresh: Fresh; servers: Record<string, Partial<Record<RequestName, Measurement>>>; sessions: Record<string, SessionMeasurement> };

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
      const sessions: Round["sessions"] = {};
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
        if (server.config.sessions) {
          const s = await measureSessions(server);
          sessions[server.config.name] = s;
          const hello = byScript.hello!;
          console.error(
            `round ${round} ${server.config.name.padEnd(38)} sessions         create p50 ${s.createP50} ms p90 ${s.createP90} ms (/ hello back to back p50 ${(s.createP50 / hello.backToBackP50).toFixed(2)})  cell p50 ${s.cellP50} ms p90 ${s.cellP90} ms (/ hello ${(s.cellP50 / hello.backToBackP50).toFixed(2)}), first cell ${s.firstCell} ms  hello by the same client p50 ${s.helloSameClientP50} ms p90 ${s.helloSameClientP90} ms, with ${SESSIONS.idle} idle sessions open p50 ${s.helloWithIdleSessionsP50} ms p90 ${s.helloWithIdleSessionsP90} ms  idle session PSS ${(s.idleSession.pss / 1048576).toFixed(1)} MiB RSS ${(s.idleSession.rss / 1048576).toFixed(1)} MiB in ${s.idleSession.processes} processes`,
          );
        }
      }
      console.error(
        `round ${round} fresh python -c pass ${fresh.pythonPass.toFixed(1)} ms (${fresh.pythonPassRate.toFixed(1)}/s on ${CPUS} CPUs), fresh pandas script ${fresh.pandasScript.toFixed(1)} ms (${fresh.pandasScriptRate.toFixed(1)}/s)`,
      );
      rounds.push({ fresh, servers: measured, sessions });
    }
    const zygote = servers.find((server) => server.config.name === "nsjail zygote");
    const soak = zygote === undefined ? undefined : await soakRss(zygote);
    await report(started, rounds, { idle, runningForkServerChild: running, ...(soak === undefined ? {} : { serverRssAfterSoak: soak }) });
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
  }
}

interface MemoryReport {
  idle: Record<string, MemoryFigure>;
  runningForkServerChild: ProcessMemory;
  /** The server process's RSS (bytes) once the soak is over and its process tree quiet. */
  serverRssAfterSoak?: number;
}

/** `SOAK.requests` requests of the three kinds in turn on `SOAK.connections` connections, then the server's own RSS. */
async function soakRss(server: RunningServer): Promise<number> {
  const kinds = Object.values(REQUESTS);
  let sent = 0;
  const connection = async () => {
    while (sent < SOAK.requests) {
      const body = kinds[sent++ % kinds.length];
      await expectStatus(call(server.url, "POST", "/execute", body), 200, "soak");
    }
  };
  await Promise.all(Array.from({ length: SOAK.connections }, connection));
  await settledTree(server.pid);
  const rss = /^VmRSS:\s+(\d+) kB/m.exec(await readProc(String(server.pid), "status"))?.[1];
  if (rss === undefined) throw new Error("the server's RSS could not be read");
  console.error(`soak: ${SOAK.requests} requests on ${SOAK.connections} connections, then the server's RSS ${(Number(rss) / 1024).toFixed(1)} MiB`);
  return Number(rss) * 1024;
}

/** Ratios are taken within each round (same machine state) and their median is reported. */
function report(started: string, rounds: Round[], memory: MemoryReport) {
  // null: a configuration the ratio needs was not measured (BENCH_CONFIGS).
  const perRound = (f: (round: Round) => number): number | null => {
    try {
      return Number(median(rounds.map(f)).toFixed(3));
    } catch {
      return null;
    }
  };
  const m = (round: Round, config: string, request: RequestName) => round.servers[config]![request]!;
  const sm = (round: Round, config: string) => round.sessions[config]!;
  // Sessions against a stateless hello sent back to back (the targets: create <= 1, cell <= 0.5) and a fresh interpreter.
  const sessionRatios = (config: string, label: string) => ({
    [`sessionCreateP50${label}OverHelloBackToBackP50`]: perRound((r) => sm(r, config).createP50 / m(r, config, "hello").backToBackP50),
    [`sessionCreateP90${label}OverHelloBackToBackP90`]: perRound((r) => sm(r, config).createP90 / m(r, config, "hello").backToBackP90),
    [`sessionCellP50${label}OverHelloBackToBackP50`]: perRound((r) => sm(r, config).cellP50 / m(r, config, "hello").backToBackP50),
    [`sessionCellP90${label}OverHelloBackToBackP90`]: perRound((r) => sm(r, config).cellP90 / m(r, config, "hello").backToBackP90),
    [`sessionCreateP50${label}OverPythonPass`]: perRound((r) => sm(r, config).createP50 / r.fresh.pythonPass),
    [`sessionCellP50${label}OverPythonPass`]: perRound((r) => sm(r, config).cellP50 / r.fresh.pythonPass),
    // What idle sessions cost the stateless requests beside them (1: nothing).
    [`helloP50WithIdleSessions${label}OverWithout`]: perRound((r) => sm(r, config).helloWithIdleSessionsP50 / sm(r, config).helloSameClientP50),
  });
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
    helloBackToBackP50ZygoteOverPythonPass: perRound((r) => m(r, "nsjail zygote", "hello").backToBackP50 / r.fresh.pythonPass),
    pandasPooledP50OverFreshPandas: perRound((r) => m(r, "nsjail pooled", "pandas").p50 / r.fresh.pandasScript),
    pandasColdP50OverFreshPandas: perRound((r) => m(r, "nsjail cold", "pandas").p50 / r.fresh.pandasScript),
    subprocessPandasPooledP50OverFreshPandas: perRound((r) => m(r, "subprocess pooled", "pandas").p50 / r.fresh.pandasScript),
    // 1 within the noise: preloading matplotlib too does not slow the pandas script.
    pandasPooledP50DefaultPreloadOverNumpyPandasPreload: perRound(
      (r) => m(r, "nsjail pooled", "pandas").p50 / m(r, "nsjail pooled, numpy+pandas preloaded", "pandas").p50,
    ),
    // The same work with its data as args and an input file, and a CSV written and returned.
    pandasWithDataOverPandasPooledP50: perRound((r) => m(r, "nsjail pooled", "pandas with data").p50 / m(r, "nsjail pooled", "pandas").p50),
    ...sessionRatios("nsjail zygote", "Zygote"),
    ...sessionRatios("nsjail pooled", "Pooled"),
  };
  const sessionLabels: Record<string, string> = { "nsjail zygote": "Zygote", "nsjail pooled": "Pooled" };
  const sessionSummary: Record<string, SessionMeasurement> = {};
  for (const config of CONFIGS.filter((c) => c.sessions)) {
    const all = rounds.map((r) => sm(r, config.name));
    const mid = (f: (x: SessionMeasurement) => number) => Number(median(all.map(f)).toFixed(1));
    sessionSummary[config.name] = {
      createP50: mid((x) => x.createP50),
      createP90: mid((x) => x.createP90),
      cellP50: mid((x) => x.cellP50),
      cellP90: mid((x) => x.cellP90),
      firstCell: mid((x) => x.firstCell),
      helloSameClientP50: mid((x) => x.helloSameClientP50),
      helloSameClientP90: mid((x) => x.helloSameClientP90),
      helloWithIdleSessionsP50: mid((x) => x.helloWithIdleSessionsP50),
      helloWithIdleSessionsP90: mid((x) => x.helloWithIdleSessionsP90),
      idleSession: {
        pss: Math.round(median(all.map((x) => x.idleSession.pss))),
        rss: Math.round(median(all.map((x) => x.idleSession.rss))),
        private: Math.round(median(all.map((x) => x.idleSession.private))),
        processes: median(all.map((x) => x.idleSession.processes)),
      },
    };
  }
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
  table.push(
    "",
    `sessions, medians over ${rounds.length} rounds (${SESSIONS.creates} creates, ${SESSIONS.cells} cells back to back; idle: ${SESSIONS.idle} sessions open, per session)`,
    `| configuration | create p50 / p90 ms | \`1 + 1\` cell p50 / p90 ms | first cell ms | hello, same client, p50 / p90 ms | the same with ${SESSIONS.idle} idle sessions open | idle session PSS MiB | RSS MiB | private MiB | processes |`,
    "|---|---|---|---|---|---|---|---|---|---|",
  );
  for (const [name, x] of Object.entries(sessionSummary)) {
    const idle = x.idleSession;
    table.push(
      `| ${name} | ${x.createP50} / ${x.createP90} | ${x.cellP50} / ${x.cellP90} | ${x.firstCell} | ${x.helloSameClientP50} / ${x.helloSameClientP90} | ${x.helloWithIdleSessionsP50} / ${x.helloWithIdleSessionsP90} | ${mib(idle.pss)} | ${mib(idle.rss)} | ${mib(idle.private)} | ${idle.processes} |`,
    );
  }
  table.push("", "ratios (median of per-round ratios):");
  for (const [name, value] of Object.entries(ratios)) if (value !== null) table.push(`  ${name}: ${value}`);
  table.push("", "run cost targets (the fork server; median of per-round ratios):");
  for (const target of RUN_COST_TARGETS) {
    const value = ratios[target.ratio];
    if (value === null) continue;
    const met = "atLeast" in target ? value >= target.atLeast : value <= target.atMost;
    const bound = "atLeast" in target ? `>= ${target.atLeast}` : `<= ${target.atMost}`;
    table.push(`  ${target.what}: ${value} (target ${bound}: ${met ? "met" : "NOT met"})`);
  }
  if (memory.serverRssAfterSoak !== undefined) {
    const rssMib = memory.serverRssAfterSoak / 1048576;
    table.push(
      `  the server's RSS after ${SOAK.requests} mixed requests: ${rssMib.toFixed(1)} MiB (target <= ${SOAK_RSS_TARGET_MIB}: ${rssMib <= SOAK_RSS_TARGET_MIB ? "met" : "NOT met"})`,
    );
  }
  table.push("", "session targets (median of per-round ratios to the stateless hello sent back to back):");
  for (const [name, label] of Object.entries(sessionLabels)) {
    const create = ratios[`sessionCreateP50${label}OverHelloBackToBackP50` as keyof typeof ratios];
    const cell = ratios[`sessionCellP50${label}OverHelloBackToBackP50` as keyof typeof ratios];
    if (create === null || cell === null) continue;
    table.push(
      `  ${name}: creating a session / a hello, p50 ${create} (target <= 1: ${create <= 1 ? "met" : "NOT met"}); a one-line cell / a hello, p50 ${cell} (target <= 0.5: ${cell <= 0.5 ? "met" : "NOT met"})`,
    );
  }
  table.push("", "idle sandbox memory (nsjail and the pre-started interpreters, or nsjail and the fork server):");
  for (const [name, { pss, rss, processes }] of Object.entries(memory.idle)) {
    table.push(`  ${name}: PSS ${mib(pss)} MiB, RSS ${mib(rss)} MiB in ${processes} processes`);
  }
  const child = memory.runningForkServerChild;
  table.push("", `a running fork-server child (the pandas script): private ${mib(child.private)} MiB, PSS ${mib(child.pss)} MiB, RSS ${mib(child.rss)} MiB`);
  console.log(table.join("\n"));

  // A run of some configurations only does not replace the committed figures of all of them.
  const output = process.env.BENCH_CONFIGS ? join(root, "bench", "results.partial.json") : join(root, "bench", "results.json");
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
            sessions: SESSIONS,
          },
          ratios,
          summary,
          sessions: sessionSummary,
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
