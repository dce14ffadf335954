// `node bench/run-cost.ts` (after `npm run build`; root, nsjail, and `perf` from Debian's
// linux-perf; strace for the syscall counts): where a request's time goes on the fork server
// (SANDBOX_MODE=zygote), in CPU time and wall time, component by component. It measures only:
// nothing in the service is changed or switched on for it. docs/performance.md, "Where a hello's
// time goes" and "Where a request's time goes after the cuts", holds the tables it produced and
// how to read them.
//
// It starts the built server (nsjail, fork server, default POOL_SIZE) on a loopback port and sends
// `def main(): return "hello"` (or, with COST_SCRIPT=pandas, the seed documents' pandas example,
// which the preloaded fork server forks) back to back on one keep-alive connection, in passes:
//   cpu       per-process CPU from /proc (schedstat: ns per thread; the fork server's reaped children
//             from its cutime/cstime), the kernel threads' (kworkers and the rest), the machine's
//             busy time from /proc/stat, and the client's wall time per request; no tracing at all.
//   trace     `perf record` of syscalls, context switches, forks and kworker work items (timestamps
//             on CLOCK_MONOTONIC, as the client's): each run's steps one by one, cut at the
//             syscalls that begin and end them, with the CPU each took (its on-CPU time between
//             the cuts) and the wall time: ahead of the request (the spare's fork and set-up), on
//             its path from the client's request to its answer, and after the answer (the exit and
//             the reap); the kworkers' work items (cleanup_net, free_ipc, ...) per run.
//   sample    `perf record -a -g` (cpu-clock): every CPU sample of the machine, by process and, for
//             the run's process, the fork server and the kworkers, by what the kernel was doing
//             (fork's page-table copy, exit's teardown, namespaces, page faults, the work item).
//   waits     `perf record -g -e sched:sched_switch`: where a run's process sleeps in the kernel
//             (the syscall and the function it waits in, such as an RCU grace period), per run.
//   profile   a second server under `node --cpu-prof`: the server's main thread by part (HTTP,
//             validation, logging, metrics, admission, lease and cgroup slot, ...), each sample
//             going to the innermost frame of its stack that belongs to a part; Node's socket and
//             stream code with no service frame above it (the reads of every socket, the runs'
//             channels' too) counts as HTTP and socket I/O.
//   strace    `strace -c -f -p <fork server>`: syscalls per run; and one `strace -f -tt -T` timeline.
//   baseline  a fresh `python -c pass`, a bare fork (and exit and wait) of a warm interpreter that
//             imported the same modules, and the same fork into new pid, mount, net, ipc, uts and
//             cgroup namespaces (wall, and CPU from wait4's rusage).
// Each pass is repeated COST_REPEATS times (3); medians are printed with their spread (min-max
// over the repetitions). It prints the tables and writes every figure as JSON into COST_OUT
// (a fresh temporary directory by default), with the perf data and strace output.
//
// Environment: COST_PORT (18911; the profiled server takes the next port), COST_RUNS (200 requests
// per cpu repetition), COST_TRACED_RUNS (100 per trace, sample and profile repetition),
// COST_REPEATS (3), COST_PASSES (all: cpu,trace,sample,waits,profile,strace,baseline), COST_OUT,
// COST_SCRIPT (hello or pandas), COST_CONNECTIONS (1: the cpu pass's requests on that many
// connections at once; the other passes send theirs back to back).
// Measure on a quiet machine: every other process's CPU shows as "other" and its load as wall time.

import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { execa, type ResultPromise } from "execa";
import { npmStartArgs } from "./npm-start.ts";
import PANDAS_EXAMPLE from "./pandas-example.json" with { type: "json" };

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const python = join(root, ".venv", "bin", "python");
const PORT = Number(process.env.COST_PORT ?? 18_911);
const RUNS = Number(process.env.COST_RUNS ?? 200);
const TRACED_RUNS = Number(process.env.COST_TRACED_RUNS ?? 100);
const REPEATS = Number(process.env.COST_REPEATS ?? 3);
const PASSES = new Set((process.env.COST_PASSES ?? "cpu,trace,sample,waits,profile,strace,baseline").split(","));
const OUT = process.env.COST_OUT ?? mkdtempSync(join(tmpdir(), "run-cost-"));
const WARM_UP = 50;
/** Connections the cpu pass sends its requests on at once: 1 is back to back, more saturates the CPUs. */
const CONNECTIONS = Number(process.env.COST_CONNECTIONS ?? 1);
const SAMPLE_HZ = 2999;
const TICK_MS = 1000 / Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim() || 100);
/** The scripts a request may send (COST_SCRIPT), each with the result its answer must carry. */
const SCRIPTS = {
  hello: { script: 'def main():\n    return "hello"\n', result: "hello" },
  // Forked by the preloaded fork server.
  pandas: PANDAS_EXAMPLE,
};
const SCRIPT_NAME = (process.env.COST_SCRIPT ?? "hello") as keyof typeof SCRIPTS;
if (!(SCRIPT_NAME in SCRIPTS)) throw new Error(`COST_SCRIPT must be one of ${Object.keys(SCRIPTS).join(", ")}`);
const BODY = JSON.stringify({ script: SCRIPTS[SCRIPT_NAME].script });
const EXPECTED_RESULT = JSON.stringify(SCRIPTS[SCRIPT_NAME].result);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const now = () => Number(process.hrtime.bigint()); // CLOCK_MONOTONIC, ns: perf record -k CLOCK_MONOTONIC's clock

function median(values: number[]): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
};
const fmt = (ms: number) => (Number.isNaN(ms) ? "-" : ms < 0.1 ? ms.toFixed(3) : ms < 10 ? ms.toFixed(2) : ms.toFixed(1));
/** Median over the repetitions, with their min-max. */
function spread(values: number[]): string {
  const clean = values.filter((v) => !Number.isNaN(v));
  if (clean.length === 0) return "-";
  if (clean.length === 1) return fmt(clean[0]!);
  return `${fmt(median(clean))} (${fmt(Math.min(...clean))}-${fmt(Math.max(...clean))})`;
}

// ---------------------------------------------------------------------------------------------
// The server and its processes

interface Server {
  port: number;
  pid: number;
  nsjail: number;
  /** The bare fork server, which forks the hellos; a child of the preloaded one. */
  forkServer: number;
  /** The preloaded fork server (nsjail's child), which passes the bare one its orders. */
  preloaded: number;
  child: ResultPromise;
  stop(): Promise<void>;
}

/** Both fork servers: a run is forked by the bare one or the preloaded one (whose other child is the bare one). */
const forkServerPids = (server: Server): number[] => [server.forkServer, server.preloaded];

const childrenOf = (pid: number): number[] => {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
};
const cmdline = (pid: number): string[] => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  } catch {
    return [];
  }
};

const namespaceDepth = (pid: number) =>
  /^NSpid:(.*)$/m
    .exec(readText(`/proc/${pid}/status`))?.[1]
    ?.trim()
    .split(/\s+/).length;

/** The preloaded fork server's child in its own pid namespace (each run's process is pid 1 of a new one). */
const bareForkServer = (preloaded: number) => childrenOf(preloaded).find((pid) => namespaceDepth(pid) === namespaceDepth(preloaded));

async function startServer(port: number, nodeArgs: string[] = []): Promise<Server> {
  const child = execa("node", [...nodeArgs, ...npmStartArgs(root)], {
    env: { ...process.env, PORT: String(port), HOST: "127.0.0.1", API_KEYS: "", SANDBOX_BACKEND: "nsjail", SANDBOX_MODE: "zygote" },
    reject: false,
    stdout: "ignore",
    stderr: "ignore",
  });
  for (let i = 0; ; i++) {
    if (i > 600) throw new Error("the server did not become healthy");
    try {
      const health = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as { isolation?: string };
      if (!String(health.isolation).includes("fork server")) throw new Error(`not the fork server: ${health.isolation}`);
      break;
    } catch (error) {
      if (error instanceof Error && error.message.startsWith("not the fork server")) throw error;
      await sleep(100);
    }
  }
  const pid = child.pid!;
  const nsjail = childrenOf(pid).find((c) => cmdline(c)[0]?.endsWith("/nsjail"));
  const preloaded = nsjail === undefined ? undefined : childrenOf(nsjail)[0];
  const forkServer = preloaded === undefined ? undefined : bareForkServer(preloaded);
  if (nsjail === undefined || preloaded === undefined || forkServer === undefined) throw new Error("no fork server found below the server");
  return {
    port,
    pid,
    nsjail,
    forkServer,
    preloaded,
    child,
    stop: async () => {
      child.kill("SIGTERM");
      await child;
    },
  };
}

const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });

/** One request (COST_SCRIPT's): its start and end on CLOCK_MONOTONIC (ns). */
function oneRequest(port: number): Promise<[number, number]> {
  return new Promise((resolve, reject) => {
    const t0 = now();
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path: "/execute",
        method: "POST",
        agent,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(BODY) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => {
          const t1 = now();
          const text = Buffer.concat(chunks).toString();
          if (res.statusCode !== 200 || JSON.stringify((JSON.parse(text) as { result?: unknown }).result) !== EXPECTED_RESULT)
            reject(new Error(`answer ${res.statusCode}: ${text}`));
          else resolve([t0, t1]);
        });
      },
    );
    req.on("error", reject);
    req.end(BODY);
  });
}

async function backToBack(port: number, count: number): Promise<[number, number][]> {
  const times: [number, number][] = [];
  for (let i = 0; i < count; i++) times.push(await oneRequest(port));
  return times;
}

/** `count` requests on `connections` connections at once, each sending its next as its last is answered. */
async function saturating(port: number, count: number, connections: number): Promise<[number, number][]> {
  const each = await Promise.all(Array.from({ length: connections }, () => backToBack(port, Math.ceil(count / connections))));
  return each.flat();
}

// ---------------------------------------------------------------------------------------------
// /proc

const readText = (path: string) => {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
};
/** Fields of /proc/<pid>/stat after the command name: [0] is field 3 (state). */
const statFields = (path: string) => {
  const text = readText(path);
  return text.slice(text.lastIndexOf(")") + 2).split(" ");
};
/** ns on CPU (schedstat's first field). */
const schedstat = (path: string) => Number(readText(path).split(" ")[0] ?? 0) || 0;

interface CpuSnapshot {
  at: number;
  /** Busy and total ticks of the whole machine. */
  busy: number;
  total: number;
  /** ns per thread group of the server: by thread name. */
  node: Record<string, number>;
  nsjail: number;
  forkServer: number;
  preloaded: number;
  /** Ticks of the fork server's reaped children (the runs). */
  runsTicks: number;
  /** Minor page faults of the fork server itself and of its reaped children. */
  forkServerFaults: number;
  runsFaults: number;
  /** ns per kernel thread, by pid (kworkers and the rest). */
  kworkers: Map<number, number>;
  kthreads: Map<number, number>;
  /** The client's own CPU, µs. */
  client: number;
}

function snapshot(server: Server): CpuSnapshot {
  const cpu = readText("/proc/stat").split("\n")[0]!.split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = cpu;
  const node: Record<string, number> = {};
  for (const tid of readdirSync(`/proc/${server.pid}/task`)) {
    const name = readText(`/proc/${server.pid}/task/${tid}/comm`).trim();
    const group =
      name === "MainThread" ? "main thread" : name.startsWith("libuv") ? "libuv pool" : name.startsWith("V8") ? "V8 workers (GC, JIT)" : "other threads";
    node[group] = (node[group] ?? 0) + schedstat(`/proc/${server.pid}/task/${tid}/schedstat`);
  }
  const kworkers = new Map<number, number>();
  const kthreads = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(`/proc/${entry}/stat`);
    if (fields[1] !== "2") continue; // kernel threads are kthreadd's children
    const name = readText(`/proc/${entry}/comm`);
    (name.startsWith("kworker") ? kworkers : kthreads).set(Number(entry), schedstat(`/proc/${entry}/schedstat`));
  }
  const forkServerStat = statFields(`/proc/${server.forkServer}/stat`);
  // A pandas script is forked by the preloaded fork server, a hello by the bare one: each reaps its own.
  const preloadedStat = statFields(`/proc/${server.preloaded}/stat`);
  const usage = process.cpuUsage();
  return {
    at: now(),
    busy: user + nice + system + irq + softirq + steal,
    total: user + nice + system + idle + iowait + irq + softirq + steal,
    node,
    nsjail: schedstat(`/proc/${server.nsjail}/schedstat`),
    forkServer: schedstat(`/proc/${server.forkServer}/schedstat`),
    preloaded: schedstat(`/proc/${server.preloaded}/schedstat`),
    runsTicks: Number(forkServerStat[13]) + Number(forkServerStat[14]) + Number(preloadedStat[13]) + Number(preloadedStat[14]),
    forkServerFaults: Number(forkServerStat[7]) + Number(preloadedStat[7]),
    runsFaults: Number(forkServerStat[8]) + Number(preloadedStat[8]),
    kworkers,
    kthreads,
    client: usage.user + usage.system,
  };
}

const mapDelta = (a: Map<number, number>, b: Map<number, number>) => [...b].reduce((sum, [pid, ns]) => sum + ns - (a.get(pid) ?? 0), 0);

/** CPU ms per request of each component between two snapshots. */
function cpuPerRequest(a: CpuSnapshot, b: CpuSnapshot, requests: number): Record<string, number> {
  const per = (ns: number) => ns / 1e6 / requests;
  const figures: Record<string, number> = {};
  for (const group of Object.keys(b.node)) figures[`server (node): ${group}`] = per((b.node[group] ?? 0) - (a.node[group] ?? 0));
  figures["bare fork server (python, itself)"] = per(b.forkServer - a.forkServer);
  figures["preloaded fork server (passes orders on)"] = per(b.preloaded - a.preloaded);
  figures["nsjail of the fork server"] = per(b.nsjail - a.nsjail);
  figures["runs' processes (reaped children of both fork servers)"] = ((b.runsTicks - a.runsTicks) * TICK_MS) / requests;
  figures.kworkers = per(mapDelta(a.kworkers, b.kworkers));
  figures["other kernel threads"] = per(mapDelta(a.kthreads, b.kthreads));
  figures["client (this script)"] = (b.client - a.client) / 1e3 / requests;
  const machine = ((b.busy - a.busy) * TICK_MS) / requests;
  const known = Object.values(figures).reduce((sum, v) => sum + v, 0);
  figures["other (the rest of the machine)"] = machine - known;
  figures["machine busy (/proc/stat)"] = machine;
  figures["machine capacity (CPUs x wall)"] = ((b.total - a.total) * TICK_MS) / requests;
  figures["minor page faults: fork servers, their own (count)"] = (b.forkServerFaults - a.forkServerFaults) / requests;
  figures["minor page faults: runs' processes (count)"] = (b.runsFaults - a.runsFaults) / requests;
  return figures;
}

// ---------------------------------------------------------------------------------------------
// perf

/** `perf record` with `args`, in which PERF_PID stands for perf's own pid (to leave its own syscalls out). */
async function perfRecord(args: string[], work: () => Promise<void>): Promise<void> {
  const perf = execa("bash", ["-c", `exec perf record "\${@//PERF_PID/$$}"`, "perf", ...args], { reject: false, stdout: "ignore", stderr: "pipe" });
  await sleep(1500); // perf has opened its events
  try {
    await work();
  } finally {
    perf.kill("SIGINT");
    const result = await perf;
    if (/lost/i.test(String(result.stderr))) console.error(`perf: ${String(result.stderr).trim()}`);
  }
}

async function* perfScript(file: string, fields: string): AsyncGenerator<string> {
  const script = execa("perf", ["script", "-i", file, "--ns", "-F", fields], { reject: false, stderr: "ignore", buffer: false });
  const lines = createInterface({ input: script.stdout! });
  for await (const line of lines) yield line;
  await script;
}

// x86-64 syscall numbers
const NR = {
  read: 0,
  write: 1,
  close: 3,
  writev: 20,
  getpid: 39,
  openat: 257,
  socket: 41,
  clone: 56,
  wait4: 61,
  setgroups: 116,
  prctl: 157,
  exit_group: 231,
  unshare: 272,
  prlimit64: 302,
  setns: 308,
  clone3: 435,
  close_range: 436,
} as const;
const PR_SET_SECCOMP = "16";
const PR_CAPBSET_DROP = "18";
const PR_SET_NO_NEW_PRIVS = "26";

interface Syscall {
  nr: number;
  args: string[];
  enter: number;
  exit: number;
  ret: number;
}

/** On-CPU intervals of one thread, in time order, with a search for the time within a window. */
class OnCpu {
  starts: number[] = [];
  ends: number[] = [];
  private openedAt: number | undefined;
  on(t: number) {
    this.openedAt = t;
  }
  off(t: number) {
    if (this.openedAt === undefined) return;
    this.starts.push(this.openedAt);
    this.ends.push(t);
    this.openedAt = undefined;
  }
  within(a: number, b: number): number {
    let lo = 0;
    let hi = this.ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.ends[mid]! <= a) lo = mid + 1;
      else hi = mid;
    }
    let total = 0;
    for (let i = lo; i < this.starts.length && this.starts[i]! < b; i++) total += Math.max(0, Math.min(this.ends[i]!, b) - Math.max(this.starts[i]!, a));
    return total;
  }
  get total(): number {
    return this.starts.reduce((sum, s, i) => sum + this.ends[i]! - s, 0);
  }
  get lastOff(): number {
    return this.ends[this.ends.length - 1] ?? NaN;
  }
  get firstOn(): number {
    return this.starts[0] ?? NaN;
  }
}

interface Trace {
  syscalls: Map<number, Syscall[]>;
  cpu: Map<number, OnCpu>;
  comms: Map<number, string>;
  /** The fork servers' children: host pid -> fork time and the fork server that forked it. */
  forks: Map<number, { at: number; parent: number }>;
  work: { fn: string; tid: number; start: number; end: number }[];
}

const LINE = /^\s*(.*?)\s+(\d+)\/(\d+)\s+\[(\d+)\]\s+(\d+)\.(\d+):\s+(\S+):\s*(.*)$/;

async function readTrace(file: string, server: Server, clientPid: number): Promise<Trace> {
  const trace: Trace = { syscalls: new Map(), cpu: new Map(), comms: new Map(), forks: new Map(), work: [] };
  const forkServers = new Set(forkServerPids(server));
  const watched = (tid: number) => tid === server.pid || forkServers.has(tid) || tid === clientPid || trace.forks.has(tid);
  const open = new Map<number, Syscall>();
  const working = new Map<number, { fn: string; start: number }>();
  const cpuOf = (tid: number) => {
    let entry = trace.cpu.get(tid);
    if (!entry) {
      entry = new OnCpu();
      trace.cpu.set(tid, entry);
    }
    return entry;
  };
  for await (const line of perfScript(file, "comm,pid,tid,cpu,time,event,trace")) {
    const m = LINE.exec(line);
    if (!m) continue;
    const tid = Number(m[3]);
    const t = Number(m[5]) * 1e9 + Number(m[6]!.padEnd(9, "0"));
    const event = m[7]!;
    const rest = m[8]!;
    if (event === "raw_syscalls:sys_enter") {
      if (!watched(tid)) continue;
      const s = /NR (\d+) \((.*)\)/.exec(rest);
      if (!s) continue;
      const call: Syscall = { nr: Number(s[1]), args: s[2]!.split(", "), enter: t, exit: NaN, ret: NaN };
      open.set(tid, call);
      let list = trace.syscalls.get(tid);
      if (!list) {
        list = [];
        trace.syscalls.set(tid, list);
      }
      list.push(call);
    } else if (event === "raw_syscalls:sys_exit") {
      const call = open.get(tid);
      if (!call) continue;
      const s = /NR (-?\d+) = (-?\d+)/.exec(rest);
      call.exit = t;
      call.ret = Number(s?.[2] ?? NaN);
      open.delete(tid);
    } else if (event === "sched:sched_switch") {
      const s = /prev_comm=(.*) prev_pid=(\d+) .* ==> next_comm=(.*) next_pid=(\d+)/.exec(rest);
      if (!s) continue;
      const prev = Number(s[2]);
      const next = Number(s[4]);
      if (prev !== 0) cpuOf(prev).off(t);
      if (next !== 0) {
        cpuOf(next).on(t);
        trace.comms.set(next, s[3]!);
      }
      trace.comms.set(prev, s[1]!);
    } else if (event === "sched:sched_process_fork") {
      const s = /pid=(\d+) child_comm=.* child_pid=(\d+)/.exec(rest);
      // The preloaded fork server's only other child is the bare one, forked before the trace.
      if (s && forkServers.has(Number(s[1]))) trace.forks.set(Number(s[2]), { at: t, parent: Number(s[1]) });
    } else if (event === "workqueue:workqueue_execute_start") {
      const s = /function (\S+)/.exec(rest);
      working.set(tid, { fn: s?.[1] ?? "?", start: t });
    } else if (event === "workqueue:workqueue_execute_end") {
      const started = working.get(tid);
      if (started) trace.work.push({ fn: started.fn, tid, start: started.start, end: t });
      working.delete(tid);
    }
  }
  return trace;
}

type Phase = "ahead" | "request" | "after";

/** A step of a run: its name and its start and end (ns), and whose CPU counts in it. */
interface Step {
  name: string;
  from: number;
  to: number;
  tids: number[];
  /** Ahead of the request (a spare's), on its path (the client's request to its answer), or after the answer. */
  phase: Phase;
}

/**
 * The steps of one request's run, cut at the syscalls that begin and end them; or the cuts not
 * found. The run is a spare: forked, connected and set up (namespaces, uid, capabilities,
 * seccomp) ahead of its request, which it then reads on its stdin; the server answers once the
 * run has spoken (its report written, its output streams closed), and the run's exit, its reap
 * and its slot's emptying follow the answer.
 */
function stepsOf(trace: Trace, server: Server, child: number, t0: number, t1: number): Step[] | string {
  const calls = trace.syscalls.get(child) ?? [];
  const forked = trace.forks.get(child)!;
  const fs = trace.syscalls.get(forked.parent) ?? [];
  const node = trace.syscalls.get(server.pid) ?? [];
  let at = 0;
  const next = (list: Syscall[], from: number, pred: (s: Syscall) => boolean) => {
    for (let i = from; i < list.length; i++) if (pred(list[i]!)) return i;
    return -1;
  };
  const cut = (pred: (s: Syscall) => boolean): Syscall | undefined => {
    const i = next(calls, at, pred);
    if (i < 0) return undefined;
    at = i + 1;
    return calls[i];
  };
  const clone = fs.find((s) => (s.nr === NR.clone || s.nr === NR.clone3) && s.enter <= forked.at && s.exit >= forked.at);
  const cloneIndex = clone ? fs.indexOf(clone) : -1;
  const unsharePid = cloneIndex > 0 ? fs[cloneIndex - 1] : undefined;
  const pidReply = next(fs, cloneIndex, (s) => s.nr === NR.write && s.args[0] === "3");
  const socket = cut((s) => s.nr === NR.socket);
  const go = cut((s) => s.nr === NR.read && s.args[0] === "4" && s.args[2] === "3");
  const unshareNs = cut((s) => s.nr === NR.unshare && s.args[0] === "20000");
  const setgroups = cut((s) => s.nr === NR.setgroups);
  const unshareUser = cut((s) => s.nr === NR.unshare && s.args[0] === "10000000");
  const unshareRest = cut((s) => s.nr === NR.unshare);
  const capFirst = cut((s) => s.nr === NR.prctl && s.args[0] === PR_CAPBSET_DROP);
  const noNewPrivs = cut((s) => s.nr === NR.prctl && s.args[0] === PR_SET_NO_NEW_PRIVS);
  const seccomp = cut((s) => s.nr === NR.prctl && s.args[0] === PR_SET_SECCOMP);
  const ready = cut((s) => s.nr === NR.write && s.args[0] === "4");
  const requestArrived = cut((s) => s.nr === NR.read && s.args[0] === "0" && s.ret > 0);
  const requestEnd = cut((s) => s.nr === NR.read && s.args[0] === "0" && s.ret === 0);
  const closeControl = cut((s) => s.nr === NR.close && s.args[0] === "4");
  const limitsFirst = cut((s) => s.nr === NR.prlimit64);
  let limitsLast = limitsFirst;
  while (calls[at]?.nr === NR.prlimit64) limitsLast = calls[at++];
  const afterScript = cut((s) => s.nr === NR.getpid);
  const report = cut((s) => s.nr === NR.write && s.args[0] === "3");
  const closeStdio = cut((s) => s.nr === NR.close_range && s.args[0] === "0");
  const exit = cut((s) => s.nr === NR.exit_group);
  const gone = trace.cpu.get(child)?.lastOff ?? NaN;
  const firstOn = trace.cpu.get(child)?.firstOn ?? NaN;
  // The fork server's reply with the exit status, after it reaped the run.
  const exitReply = fs.find((s) => s.nr === NR.write && s.args[0] === "3" && s.enter > gone);
  // The server: the request's arrival (its first read of the HTTP socket), the request it writes
  // to the run's stdin, and the answer: its last writev before the client has it, on the HTTP
  // connection's fd.
  const answer = node.findLast((s) => s.nr === NR.writev && s.enter > (closeStdio?.exit ?? Infinity) && s.enter < t1);
  const requestRead = node.find((s) => s.nr === NR.read && s.args[0] === answer?.args[0] && s.enter >= t0 && s.enter < t1);
  const handOver = node.findLast((s) => (s.nr === NR.write || s.nr === NR.writev) && s.enter >= t0 && s.enter < (requestArrived?.exit ?? 0));
  const parts = {
    clone,
    unsharePid,
    socket,
    go,
    unshareNs,
    setgroups,
    unshareUser,
    unshareRest,
    capFirst,
    noNewPrivs,
    seccomp,
    ready,
    requestArrived,
    requestEnd,
    closeControl,
    limitsFirst,
    limitsLast,
    afterScript,
    report,
    closeStdio,
    exit,
    exitReply,
    requestRead,
    handOver,
    answer,
  };
  const missing = Object.entries(parts)
    .filter(([, call]) => call === undefined)
    .map(([name]) => name);
  if (pidReply < 0) missing.push("pidReply");
  if (Number.isNaN(gone)) missing.push("gone");
  if (missing.length > 0) return missing.join(",");
  const C = [child];
  const FS = [forked.parent];
  const S = [server.pid];
  const step = (name: string, from: number, to: number, tids: number[], phase: Phase): Step => ({ name, from, to, tids, phase });
  // A spare still setting itself up when its request came: the request waits for the rest of it.
  const waitedFor = Math.max(handOver!.enter, ready!.exit);
  return [
    // Ahead of the request (a spare): the fork, its channels, its set-up.
    step("fork server: unshare(CLONE_NEWPID)", unsharePid!.enter, unsharePid!.exit, FS, "ahead"),
    step("fork server: fork() (clone)", clone!.enter, clone!.exit, FS, "ahead"),
    step("fork server: setns back, pid reply", clone!.exit, fs[pidReply]!.exit, FS, "ahead"),
    step("run: after fork (at-fork hooks), setsid", firstOn, socket!.enter, C, "ahead"),
    step("run: connect its 5 channels, close_range", socket!.enter, go!.enter, C, "ahead"),
    step("run: waits for 'go' (the server moves it into its slot)", go!.enter, go!.exit, C, "ahead"),
    step("run: unshare(CLONE_NEWNS)", unshareNs!.enter, unshareNs!.exit, C, "ahead"),
    step("run: mounts (/ private, umount proc and channels, 2 fresh tmpfs)", unshareNs!.exit, setgroups!.enter, C, "ahead"),
    step("run: setgroups, setresgid/uid, chdir, dumpable", setgroups!.enter, unshareUser!.enter, C, "ahead"),
    step("run: unshare(CLONE_NEWUSER)", unshareUser!.enter, unshareUser!.exit, C, "ahead"),
    step("run: uid/gid maps, setgroups deny", unshareUser!.exit, unshareRest!.enter, C, "ahead"),
    step("run: unshare(NET|IPC|UTS|CGROUP)", unshareRest!.enter, unshareRest!.exit, C, "ahead"),
    step("run: per-run Python set-up (numpy's random state reseeded where imported)", unshareRest!.exit, capFirst!.enter, C, "ahead"),
    step("run: capability drop (bounding, ambient, capset), no_new_privs", capFirst!.enter, noNewPrivs!.exit, C, "ahead"),
    step("run: seccomp install (prctl)", noNewPrivs!.exit, seccomp!.exit, C, "ahead"),
    step("run: 'ready' written", seccomp!.exit, ready!.exit, C, "ahead"),
    // The request.
    step("client -> server: request sent, read by the server", t0, requestRead!.enter, S, "request"),
    step("server: HTTP, validation, admission, spare taken, slot limits, request handed over", requestRead!.enter, handOver!.enter, S, "request"),
    step("run: set-up not yet done when the request was handed over (wall)", handOver!.enter, waitedFor, C, "request"),
    step("run: the request reaches it (wake-up)", waitedFor, requestArrived!.exit, C, "request"),
    step("run: request read to its end, 'started' written", requestArrived!.exit, closeControl!.exit, C, "request"),
    step("run: harness prepare (compile, checks, input dir)", closeControl!.exit, limitsFirst!.enter, C, "request"),
    step("run: rlimits", limitsFirst!.enter, limitsLast!.exit, C, "request"),
    step("run: the script (top level, main(), result to JSON)", limitsLast!.exit, afterScript!.enter, C, "request"),
    step("run: output files and figures collected", afterScript!.enter, report!.enter, C, "request"),
    step("run: report written, its channel and stdio closed", report!.enter, closeStdio!.exit, C, "request"),
    step("server: the run has spoken (report, streams closed) -> answer", closeStdio!.exit, answer!.enter, S, "request"),
    step("server -> client: answer written, read by the client", answer!.enter, t1, S, "request"),
    // After the answer.
    step("run: os._exit", closeStdio!.exit, exit!.enter, C, "after"),
    step("run: exit in the kernel (mm, files, namespaces, pid 1)", exit!.enter, gone, C, "after"),
    step("fork server: SIGCHLD, reap, exit status reply", gone, exitReply!.exit, FS, "after"),
  ];
}

interface TraceFigures {
  /** Medians and means over the runs. */
  steps: Record<string, { cpu: number; wall: number; cpuMean: number; wallMean: number; phase: Phase }>;
  /** Medians over the runs: request wall, the run's process's whole on-CPU time, ... */
  totals: Record<string, number>;
  /** kworker work items per run: count, CPU ms, wall ms (means over the runs). */
  work: Record<string, { perRun: number; cpu: number; wall: number }>;
  runs: number;
  /** Requests left out, and why. */
  skipped: Record<string, number>;
}

function analyseTrace(trace: Trace, server: Server, times: [number, number][]): TraceFigures {
  const byStep = new Map<string, { cpu: number[]; wall: number[]; phase: Phase }>();
  const totals: Record<string, number[]> = {
    "request wall (client)": [],
    "critical path, sum of steps": [],
    "run's process on-CPU, fork to exit": [],
    "run's process wall, fork to exit": [],
  };
  let runs = 0;
  const skipped: Record<string, number> = {};
  for (const [t0, t1] of times) {
    // The run that read this request on its stdin.
    const child = [...trace.forks.keys()].find((pid) =>
      (trace.syscalls.get(pid) ?? []).some((s) => s.nr === NR.read && s.args[0] === "0" && s.ret > 0 && s.exit > t0 && s.exit < t1),
    );
    if (child === undefined) {
      skipped["its run was forked before the trace began"] = (skipped["its run was forked before the trace began"] ?? 0) + 1;
      continue;
    }
    const steps = stepsOf(trace, server, child, t0, t1);
    if (typeof steps === "string") {
      skipped[`cuts not found: ${steps}`] = (skipped[`cuts not found: ${steps}`] ?? 0) + 1;
      continue;
    }
    runs++;
    for (const step of steps) {
      const cpu = step.tids.reduce((sum, tid) => sum + (trace.cpu.get(tid)?.within(step.from, step.to) ?? 0), 0);
      let entry = byStep.get(step.name);
      if (!entry) {
        entry = { cpu: [], wall: [], phase: step.phase };
        byStep.set(step.name, entry);
      }
      entry.cpu.push(cpu / 1e6);
      entry.wall.push((step.to - step.from) / 1e6);
    }
    totals["request wall (client)"]!.push((t1 - t0) / 1e6);
    totals["critical path, sum of steps"]!.push(steps.filter((s) => s.phase === "request").reduce((sum, s) => sum + s.to - s.from, 0) / 1e6);
    const cpu = trace.cpu.get(child)!;
    totals["run's process on-CPU, fork to exit"]!.push(cpu.total / 1e6);
    totals["run's process wall, fork to exit"]!.push((cpu.lastOff - trace.forks.get(child)!.at) / 1e6);
  }
  const steps: TraceFigures["steps"] = {};
  const mean = (values: number[]) => values.reduce((sum, v) => sum + v, 0) / values.length;
  for (const [name, entry] of byStep) {
    steps[name] = { cpu: median(entry.cpu), wall: median(entry.wall), cpuMean: mean(entry.cpu), wallMean: mean(entry.wall), phase: entry.phase };
  }
  const window: [number, number] = [times[0]![0], times[times.length - 1]![1]];
  const work: TraceFigures["work"] = {};
  const items = trace.work.filter((w) => w.start >= window[0] && w.end <= window[1]);
  for (const item of items) {
    work[item.fn] ??= { perRun: 0, cpu: 0, wall: 0 };
    const entry = work[item.fn]!;
    entry.perRun += 1 / times.length;
    entry.cpu += (trace.cpu.get(item.tid)?.within(item.start, item.end) ?? 0) / 1e6 / times.length;
    entry.wall += (item.end - item.start) / 1e6 / times.length;
  }
  // Every kworker's and the fork server's on-CPU time in the window, per request.
  const perRequest = (pred: (tid: number, comm: string) => boolean) =>
    [...trace.cpu].filter(([tid]) => pred(tid, trace.comms.get(tid) ?? "")).reduce((sum, [, c]) => sum + c.within(...window), 0) / 1e6 / times.length;
  const figures: Record<string, number> = {};
  for (const [name, values] of Object.entries(totals)) figures[name] = median(values);
  figures["kworkers on-CPU per request (all work)"] = perRequest((_, comm) => comm.startsWith("kworker"));
  figures["fork servers on-CPU per request"] = perRequest((tid) => forkServerPids(server).includes(tid));
  figures["server main thread on-CPU per request"] = perRequest((tid) => tid === server.pid);
  const inWindow = (tid: number, nr?: number) =>
    (trace.syscalls.get(tid) ?? []).filter((s) => s.enter >= window[0] && s.enter <= window[1] && (nr === undefined || s.nr === nr)).length / times.length;
  figures["server main thread: syscalls per request (count)"] = inWindow(server.pid);
  figures["server main thread: openat per request (count)"] = inWindow(server.pid, NR.openat);
  figures["fork servers: syscalls per request (count)"] = forkServerPids(server).reduce((sum, pid) => sum + inWindow(pid), 0);
  return { steps, totals: figures, work, runs, skipped };
}

// ---------------------------------------------------------------------------------------------
// perf sampling: what the kernel and the processes do, by category

const KERNEL = /^ffff/;

function sampleCategory(frames: { ip: string; sym: string }[], who: string): string {
  const syms = frames.map((f) => f.sym);
  const has = (...names: string[]) => syms.some((s) => names.some((n) => s === n || s.startsWith(`${n}+`)));
  const inKernel = frames.length > 0 && KERNEL.test(frames[0]!.ip);
  if (who === "kworker") {
    const worker = syms.indexOf("process_one_work");
    const fn = worker > 0 ? syms[worker - 1]!.replace(/\+0x.*$/, "") : "(no work item)";
    return `kworker: ${fn}`;
  }
  if (who === "run" || who === "fork server") {
    if (has("do_exit", "do_group_exit")) {
      if (has("exit_mmap", "mmput")) return `${who}: exit, address space teardown (exit_mmap)`;
      if (has("exit_task_namespaces", "switch_task_namespaces", "free_nsproxy")) return `${who}: exit, namespaces`;
      if (has("zap_pid_ns_processes")) return `${who}: exit, pid namespace (zap)`;
      if (has("exit_files", "put_files_struct")) return `${who}: exit, files`;
      return `${who}: exit, other`;
    }
    if (has("copy_process", "kernel_clone")) return has("copy_page_range", "dup_mmap") ? `${who}: fork, copy of the address space` : `${who}: fork, other`;
    if (has("ksys_unshare", "__x64_sys_unshare")) {
      if (has("copy_net_ns", "setup_net")) return `${who}: unshare, net namespace`;
      if (has("create_user_ns")) return `${who}: unshare, user namespace`;
      if (has("copy_mnt_ns")) return `${who}: unshare, mount namespace`;
      if (has("copy_ipcs")) return `${who}: unshare, ipc namespace`;
      return `${who}: unshare, other`;
    }
    if (has("__x64_sys_setns")) return `${who}: setns`;
    if (has("__x64_sys_mount", "__x64_sys_umount", "path_mount", "do_mount")) return `${who}: mount, umount`;
    if (has("exc_page_fault", "asm_exc_page_fault")) return `${who}: page faults (copy-on-write and new pages)`;
    if (has("__x64_sys_prctl", "__do_sys_prctl")) return `${who}: prctl (capabilities, seccomp)`;
    if (has("ret_from_fork", "schedule_tail")) return `${who}: first run after fork`;
    if (inKernel && has("entry_SYSCALL_64", "do_syscall_64")) return `${who}: other syscalls`;
    if (inKernel) return `${who}: kernel, other (interrupts, scheduling)`;
    return `${who}: user space (Python)`;
  }
  return `${who}: ${inKernel ? "kernel" : "user space"}`;
}

async function readSamples(file: string, server: Server, clientPid: number): Promise<{ counts: Record<string, number>; samples: number }> {
  const counts: Record<string, number> = {};
  const runs = new Set<number>();
  let samples = 0;
  let header: { comm: string; pid: number; event: string } | undefined;
  let frames: { ip: string; sym: string }[] = [];
  const flush = () => {
    if (!header) return;
    if (header.event.startsWith("sched:sched_process_fork")) {
      // handled when the header was read
    } else {
      const { comm, pid } = header;
      const who =
        pid === server.pid
          ? "server (node)"
          : pid === clientPid
            ? "client"
            : forkServerPids(server).includes(pid)
              ? "fork server"
              : runs.has(pid)
                ? "run"
                : pid === server.nsjail
                  ? "nsjail"
                  : comm.startsWith("kworker")
                    ? "kworker"
                    : comm === "swapper"
                      ? "idle"
                      : /^(ksoftirqd|rcu|migration|kcompactd|khugepaged|kswapd|cpuhp|watchdog)/.test(comm)
                        ? "other kernel threads"
                        : "other processes";
      const category = sampleCategory(frames, who);
      counts[category] = (counts[category] ?? 0) + 1;
      samples++;
    }
    header = undefined;
    frames = [];
  };
  for await (const line of perfScript(file, "comm,pid,tid,time,event,ip,sym,trace")) {
    if (line.trim() === "") {
      flush();
      continue;
    }
    const frame = /^\s+([0-9a-f]+)\s+(.*)$/.exec(line);
    if (header && frame) {
      frames.push({ ip: frame[1]!, sym: frame[2]!.trim() });
      continue;
    }
    flush();
    const m = /^\s*(.*?)\s+(\d+)\/(\d+)\s+\d+\.\d+:\s+(?:\d+\s+)?(\S+):?\s*(.*)$/.exec(line);
    if (!m) continue;
    header = { comm: m[1]!, pid: Number(m[2]), event: m[4]! };
    if (header.event.startsWith("sched:sched_process_fork")) {
      const s = /pid=(\d+) child_comm=.* child_pid=(\d+)/.exec(m[5]!);
      if (s && forkServerPids(server).includes(Number(s[1]))) runs.add(Number(s[2]));
    }
  }
  flush();
  return { counts, samples };
}

/**
 * Where the runs' processes sleep in the kernel (uninterruptible waits): per run, how often each
 * syscall waited in each kernel function, from `perf record -g -e sched:sched_switch`'s stacks.
 */
async function readWaits(file: string, server: Server): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  const runs = new Set<number>();
  let frames: string[] = [];
  let waiting: boolean | undefined;
  const flush = () => {
    if (waiting) {
      const syms = frames.map((f) => f.replace(/\+0x.*$/, ""));
      const scheduling =
        /^(__schedule|schedule|schedule_timeout|schedule_preempt_disabled|io_schedule|__wait_for_common|wait_for_completion.*|__mutex_lock.*|mutex_lock|rwsem_down.*|down_.*)$/;
      const blocker = syms.find((s) => !scheduling.test(s)) ?? "?";
      const call = syms.find((s) => s.startsWith("__x64_sys_") || s.startsWith("__do_sys_"))?.replace(/^__(x64|do)_sys_/, "") ?? "(no syscall)";
      counts[`${call}: ${blocker}`] = (counts[`${call}: ${blocker}`] ?? 0) + 1;
    }
    frames = [];
    waiting = undefined;
  };
  for await (const line of perfScript(file, "comm,pid,tid,time,event,trace,ip,sym")) {
    if (line.trim() === "") {
      flush();
      continue;
    }
    const frame = /^\s+[0-9a-f]+\s+(.*)$/.exec(line);
    if (frame && waiting !== undefined) {
      frames.push(frame[1]!.trim());
      continue;
    }
    flush();
    const fork = /sched_process_fork:.* pid=(\d+) child_comm=.* child_pid=(\d+)/.exec(line);
    if (fork && forkServerPids(server).includes(Number(fork[1]))) runs.add(Number(fork[2]));
    const sw = /sched_switch:.* prev_pid=(\d+) .*prev_state=(\S+) ==>/.exec(line);
    waiting = sw ? runs.has(Number(sw[1])) && sw[2]!.startsWith("D") : undefined;
  }
  flush();
  return counts;
}

// ---------------------------------------------------------------------------------------------
// The server's JavaScript, by part (node --cpu-prof)

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string }; children?: number[] }[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

const JS_PARTS: [RegExp, string][] = [
  [/\/openapi\/|\/zod\/|@hono\/zod-openapi|zod-to-openapi|exact-json|json-syntax/, "validation (zod schemas, body checks)"],
  [/pino|sonic-boom|access-log|observability\/.*log/, "logging (pino, access log)"],
  [/prom-client|metrics/, "metrics (prom-client)"],
  [/admission/, "admission"],
  [/idempotency/, "idempotency middleware"],
  [/adapters\/run\/|adapters\/cgroups\//, "lease, uid and cgroup slot (cgroup files)"],
  [/adapters\/fork-server\/run-channel|capped-buffer/, "run's channels (sockets, output capture)"],
  [/adapters\/fork-server\/|adapters\/pool\//, "fork-server client and spares (pool)"],
  [/adapters\/python\//, "harness request and report"],
  [/\/domain\//, "use case (domain)"],
  [
    /\/src\/http\/|\/hono\/|@hono\/node-server|node:_http|node:http|node:internal\/http|node:net|node:internal\/streams|node:stream/,
    "HTTP and socket I/O (Node http, net and streams, Hono)",
  ],
  [/\/src\//, "other service code"],
];

/** Busy samples by the source file of their innermost frame that has one (node_modules package or dist path). */
function profileSources(profile: CpuProfile, window: [number, number]): Record<string, number> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const counts: Record<string, number> = {};
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    if (t * 1e3 < window[0] || t * 1e3 > window[1]) continue;
    const id = profile.samples[i]!;
    const name = byId.get(id)!.callFrame.functionName;
    if (name === "(idle)") continue;
    let source = name;
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const url = byId.get(at)!.callFrame.url;
      if (url) {
        source = url.replace(/^.*\/node_modules\/((@[^/]+\/)?[^/]+)\/.*$/, "$1").replace(/^.*\/dist\//, "");
        break;
      }
    }
    counts[source] = (counts[source] ?? 0) + 1;
  }
  return counts;
}

function profileParts(profile: CpuProfile, windows: [number, number][]): Record<string, number> {
  const parent = new Map<number, number>();
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const partOf = new Map<number, string>();
  const categorize = (id: number): string => {
    const cached = partOf.get(id);
    if (cached) return cached;
    const leaf = byId.get(id)!.callFrame;
    let part: string | undefined;
    for (let at: number | undefined = id; at !== undefined && part === undefined; at = parent.get(at)) {
      const url = byId.get(at)!.callFrame.url;
      part = JS_PARTS.find(([pattern]) => pattern.test(url))?.[1];
    }
    part ??=
      leaf.functionName === "(garbage collector)"
        ? "garbage collector"
        : leaf.functionName === "(idle)"
          ? "idle"
          : leaf.functionName === "(program)"
            ? "V8 and native (program)"
            : "Node internals (event loop, timers, fs)";
    partOf.set(id, part);
    return part;
  };
  const counts: Record<string, number> = {};
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    const us = t;
    if (!windows.some(([a, b]) => us * 1e3 >= a && us * 1e3 <= b)) continue;
    const part = categorize(profile.samples[i]!);
    counts[part] = (counts[part] ?? 0) + 1;
  }
  return counts;
}

// ---------------------------------------------------------------------------------------------
// Baselines: a fresh interpreter, and a bare fork of a warm one

const BASELINE_PY = `
import ctypes, gc, json, os, resource, sys, time
n, preload = int(sys.argv[1]), sys.argv[2]
def ms(ru): return (ru.ru_utime + ru.ru_stime) * 1e3
def fresh():
    out = []
    for _ in range(n):
        t = time.monotonic()
        pid = os.posix_spawn(sys.executable, [sys.executable, "-c", "pass"], {"PATH": "/usr/bin:/bin", "OPENBLAS_NUM_THREADS": "1"})
        _, _, ru = os.wait4(pid, 0)
        out.append({"wall": (time.monotonic() - t) * 1e3, "cpu": ms(ru), "parent": 0})
    return out
libc = ctypes.CDLL(None, use_errno=True)
def forks(namespaces):
    own = os.open("/proc/self/ns/pid", os.O_RDONLY)
    out = []
    for _ in range(n):
        before = ms(resource.getrusage(resource.RUSAGE_SELF))
        t = time.monotonic()
        if namespaces:
            assert libc.unshare(0x20000000) == 0
        pid = os.fork()
        if pid == 0:
            if namespaces:
                # mount, net, ipc, uts, cgroup: what a run adds to its pid namespace (no user namespace: root here)
                if libc.unshare(0x00020000 | 0x40000000 | 0x08000000 | 0x04000000 | 0x02000000) != 0:
                    os._exit(3)
            os._exit(0)
        if namespaces:
            assert libc.setns(own, 0x20000000) == 0
        _, status, ru = os.wait4(pid, 0)
        assert status == 0, status
        out.append({"wall": (time.monotonic() - t) * 1e3, "cpu": ms(ru), "parent": ms(resource.getrusage(resource.RUSAGE_SELF)) - before})
    return out
result = {"python -c pass (fresh interpreter)": fresh()}
gc.freeze()
result["bare fork + exit + wait of an interpreter that imported nothing more"] = forks(False)
result["the same bare fork, child pid 1 of new namespaces"] = forks(True)
gc.unfreeze()
os.environ["MPLBACKEND"] = "agg"
for name in preload.split(","):
    __import__(name)
gc.freeze()
result["bare fork + exit + wait of a warm interpreter"] = forks(False)
result["the same fork, child pid 1 of new pid + mount/net/ipc/uts/cgroup namespaces"] = forks(True)
print(json.dumps(result))
`;

function baselines(runs: number): Record<string, { wall: number; cpu: number; parent: number }> {
  const result = spawnSync(python, ["-c", BASELINE_PY, String(runs), process.env.PRELOAD_MODULES ?? "numpy,pandas,matplotlib"], {
    encoding: "utf8",
    env: { PATH: "/usr/bin:/bin", OPENBLAS_NUM_THREADS: "1" },
  });
  if (result.status !== 0) throw new Error(`baseline: ${result.stderr}`);
  const parsed = JSON.parse(result.stdout) as Record<string, { wall: number; cpu: number; parent: number }[]>;
  const figures: Record<string, { wall: number; cpu: number; parent: number }> = {};
  for (const [name, list] of Object.entries(parsed)) {
    const kept = list.slice(2); // the first ones warm the page cache
    figures[name] = { wall: median(kept.map((x) => x.wall)), cpu: median(kept.map((x) => x.cpu)), parent: median(kept.map((x) => x.parent)) };
  }
  return figures;
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const results: Record<string, unknown> = { started: new Date().toISOString(), cpus: readText("/proc/cpuinfo").match(/^processor/gm)?.length };
  const print = (text: string) => console.log(text);
  print(`output: ${OUT}`);
  const server = await startServer(PORT);
  try {
    await backToBack(server.port, WARM_UP);
    await sleep(1000);

    if (PASSES.has("cpu")) {
      const repeats: { wall: number[]; cpu: Record<string, number> }[] = [];
      for (let r = 0; r < REPEATS; r++) {
        const before = snapshot(server);
        const times = await saturating(server.port, RUNS, CONNECTIONS);
        await sleep(300); // the last run reaped, its kworker work done
        const after = snapshot(server);
        repeats.push({ wall: times.map(([a, b]) => (b - a) / 1e6), cpu: cpuPerRequest(before, after, times.length) });
        await sleep(500);
      }
      results.cpu = repeats;
      print(
        `\nCPU per request, ms (${RUNS} ${SCRIPT_NAME} requests ${CONNECTIONS === 1 ? "back to back" : `on ${CONNECTIONS} connections at once`}, ${REPEATS} repetitions: median (min-max)), from /proc`,
      );
      for (const name of Object.keys(repeats[0]!.cpu)) print(`  ${name.padEnd(56)} ${spread(repeats.map((r) => r.cpu[name]!))}`);
      print(
        `  request wall p50 ${spread(repeats.map((r) => median(r.wall)))}  p10 ${spread(repeats.map((r) => quantile(r.wall, 0.1)))}  p90 ${spread(repeats.map((r) => quantile(r.wall, 0.9)))}`,
      );
    }

    if (PASSES.has("trace")) {
      const repeats: TraceFigures[] = [];
      for (let r = 0; r < REPEATS; r++) {
        const file = join(OUT, `trace-${r}.data`);
        let times: [number, number][] = [];
        const notPerf = ["--filter", "common_pid != PERF_PID"];
        const events = [
          ...["-e", "raw_syscalls:sys_enter", ...notPerf, "-e", "raw_syscalls:sys_exit", ...notPerf],
          ...["-e", "sched:sched_switch", "-e", "sched:sched_process_fork", "-e", "workqueue:workqueue_execute_start", "-e", "workqueue:workqueue_execute_end"],
        ];
        await perfRecord(["-k", "CLOCK_MONOTONIC", "-a", "--mmap-pages", "4096", "-o", file, ...events], async () => {
          times = await backToBack(server.port, TRACED_RUNS);
          await sleep(300);
        });
        repeats.push(analyseTrace(await readTrace(file, server, process.pid), server, times));
      }
      results.trace = repeats;
      print(`\nSteps of a request (perf trace, ${TRACED_RUNS} requests x ${REPEATS}; median over runs, then median (min-max) over repetitions), ms`);
      print(`  runs with every cut found: ${repeats.map((r) => r.runs).join(", ")}; left out: ${repeats.map((r) => JSON.stringify(r.skipped)).join(", ")}`);
      print(`  ${"step".padEnd(80)} ${"CPU".padEnd(20)} ${"wall".padEnd(20)} ${"CPU mean".padEnd(20)} wall mean`);
      for (const name of Object.keys(repeats[0]!.steps)) {
        const mark = { ahead: " (ahead of the request)", request: "", after: " (after the answer)" }[repeats[0]!.steps[name]!.phase];
        const get = (key: "cpu" | "wall" | "cpuMean" | "wallMean") => spread(repeats.map((r) => r.steps[name]?.[key] ?? NaN)).padEnd(20);
        print(`  ${(name + mark).padEnd(80)} ${get("cpu")} ${get("wall")} ${get("cpuMean")} ${get("wallMean")}`);
      }
      for (const name of Object.keys(repeats[0]!.totals)) print(`  ${name.padEnd(80)} ${spread(repeats.map((r) => r.totals[name]!))}`);
      print("  kworker work items per request: count, CPU ms, wall ms");
      const fns = [...new Set(repeats.flatMap((r) => Object.keys(r.work)))].sort((a, b) => (repeats[0]!.work[b]?.cpu ?? 0) - (repeats[0]!.work[a]?.cpu ?? 0));
      for (const fn of fns.slice(0, 15)) {
        const get = (f: (w: { perRun: number; cpu: number; wall: number }) => number) => spread(repeats.map((r) => (r.work[fn] ? f(r.work[fn]) : 0)));
        print(`    ${fn.padEnd(40)} ${get((w) => w.perRun).padEnd(20)} ${get((w) => w.cpu).padEnd(22)} ${get((w) => w.wall)}`);
      }
    }

    if (PASSES.has("sample")) {
      const repeats: Record<string, number>[] = [];
      for (let r = 0; r < REPEATS; r++) {
        const file = join(OUT, `sample-${r}.data`);
        await perfRecord(["-a", "-g", "-F", String(SAMPLE_HZ), "-e", "cpu-clock", "-e", "sched:sched_process_fork", "-o", file], async () => {
          await backToBack(server.port, TRACED_RUNS);
          await sleep(300);
        });
        const { counts } = await readSamples(file, server, process.pid);
        const perRun: Record<string, number> = {};
        for (const [name, count] of Object.entries(counts)) perRun[name] = (count * 1000) / SAMPLE_HZ / TRACED_RUNS;
        repeats.push(perRun);
      }
      results.sample = repeats;
      print(`\nCPU per request by what it was spent on (perf -a -g at ${SAMPLE_HZ} Hz, ${TRACED_RUNS} requests x ${REPEATS}), ms`);
      const names = [...new Set(repeats.flatMap((r) => Object.keys(r)))].sort();
      for (const name of names) {
        const values = repeats.map((r) => r[name] ?? 0);
        if (median(values) >= 0.02) print(`  ${name.padEnd(70)} ${spread(values)}`);
      }
    }

    if (PASSES.has("waits")) {
      const repeats: Record<string, number>[] = [];
      for (let r = 0; r < REPEATS; r++) {
        const file = join(OUT, `waits-${r}.data`);
        await perfRecord(["-a", "-g", "-e", "sched:sched_switch", "-e", "sched:sched_process_fork", "-o", file], async () => {
          await backToBack(server.port, TRACED_RUNS);
          await sleep(300);
        });
        const counts = await readWaits(file, server);
        repeats.push(Object.fromEntries(Object.entries(counts).map(([name, n]) => [name, n / TRACED_RUNS])));
      }
      results.waits = repeats;
      print(
        `\nUninterruptible waits of the runs' processes per request (perf -g on sched_switch, ${TRACED_RUNS} requests x ${REPEATS}): syscall: where it slept`,
      );
      const names = [...new Set(repeats.flatMap((r) => Object.keys(r)))].sort();
      for (const name of names) print(`  ${name.padEnd(70)} ${spread(repeats.map((r) => r[name] ?? 0))}`);
    }

    if (PASSES.has("strace")) {
      const counts = join(OUT, "strace-c.txt");
      const strace = execa("strace", ["-c", "-f", "-o", counts, "-p", String(server.forkServer)], { reject: false });
      await sleep(1000);
      await backToBack(server.port, TRACED_RUNS);
      strace.kill("SIGINT");
      await strace;
      const summary = readText(counts);
      const total = /(\d+)\s+(\d+)?\s*total/.exec(summary);
      print(
        `\nstrace -c -f -p <fork server>, ${TRACED_RUNS} requests: ${total ? (Number(total[1]) / TRACED_RUNS).toFixed(0) : "?"} syscalls per request (${counts})`,
      );
      print(summary.split("\n").slice(0, 14).join("\n"));
      const timeline = join(OUT, "strace-timeline.txt");
      const traced = execa("strace", ["-f", "-tt", "-T", "-o", timeline, "-p", String(server.forkServer)], { reject: false });
      await sleep(1000);
      await backToBack(server.port, 4);
      traced.kill("SIGINT");
      await traced;
      print(`strace -f -tt -T timeline of 4 requests: ${timeline}`);
      results.strace = summary;
    }
  } finally {
    await server.stop();
  }

  if (PASSES.has("profile")) {
    const dir = join(OUT, "cpu-prof");
    const profiled = await startServer(PORT + 1, ["--cpu-prof", "--cpu-prof-dir", dir, "--cpu-prof-interval", "200"]);
    const windows: [number, number][] = [];
    try {
      await backToBack(profiled.port, WARM_UP);
      for (let r = 0; r < REPEATS; r++) {
        const times = await backToBack(profiled.port, TRACED_RUNS);
        windows.push([times[0]![0], times[times.length - 1]![1]]);
      }
    } finally {
      await profiled.stop();
    }
    const file = readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
    if (!file) throw new Error("no CPU profile written");
    const profile = JSON.parse(readFileSync(join(dir, file), "utf8")) as CpuProfile;
    const repeats = windows.map((w) => profileParts(profile, [w]));
    results.profile = repeats;
    print(`\nThe server's main thread by part (node --cpu-prof, 200 µs samples, ${TRACED_RUNS} requests x ${REPEATS}): share of its busy samples`);
    const parts = [...new Set(repeats.flatMap((r) => Object.keys(r)))].filter((p) => p !== "idle");
    const shares = repeats.map((r) => {
      const busy = parts.reduce((sum, p) => sum + (r[p] ?? 0), 0);
      return Object.fromEntries(parts.map((p) => [p, (100 * (r[p] ?? 0)) / busy]));
    });
    parts.sort((a, b) => median(shares.map((s) => s[b]!)) - median(shares.map((s) => s[a]!)));
    for (const part of parts) print(`  ${part.padEnd(50)} ${spread(shares.map((s) => s[part]!))} %`);
    const busyMs = repeats.map((r) => (parts.reduce((sum, p) => sum + (r[p] ?? 0), 0) * 0.2) / TRACED_RUNS);
    print(`  busy per request under the profiler: ${spread(busyMs)} ms (samples x 200 µs)`);
    const sources = profileSources(profile, windows[0]!);
    const busy = Object.values(sources).reduce((sum, n) => sum + n, 0);
    print("  by source file of the innermost frame that has one (first repetition), % of busy samples:");
    for (const [source, n] of Object.entries(sources)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 20))
      print(`    ${source.padEnd(60)} ${((100 * n) / busy).toFixed(1)}`);
    results.profileSources = sources;
  }

  if (PASSES.has("baseline")) {
    const repeats = Array.from({ length: REPEATS }, () => baselines(22));
    results.baseline = repeats;
    print("\nBaselines (20 each, after 2 to warm up; median (min-max) over repetitions), ms");
    for (const name of Object.keys(repeats[0]!)) {
      const get = (f: (x: { wall: number; cpu: number; parent: number }) => number) => spread(repeats.map((r) => f(r[name]!)));
      print(`  ${name.padEnd(80)} wall ${get((x) => x.wall).padEnd(20)} child CPU ${get((x) => x.cpu).padEnd(20)} parent CPU ${get((x) => x.parent)}`);
    }
  }

  writeFileSync(join(OUT, "run-cost.json"), `${JSON.stringify(results, null, 2)}\n`);
  print(`\nwrote ${join(OUT, "run-cost.json")}`);
}

await main();
