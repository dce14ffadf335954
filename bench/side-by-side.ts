// `node bench/side-by-side.ts <checkout A> <checkout B>` (root, nsjail; each checkout built with
// `npm run build`): two builds of the service started side by side and loaded at the same time
// with hellos, each on its own connections, so that whatever else the machine does falls on both
// alike. Per round it prints each server's CPU per request (its main thread, and the whole Node
// process) from /proc, and how many requests each answered. For a change to the server's own
// work, whose effect is smaller than what the machine's load does to figures taken one after the
// other.
//
// Environment: SIDE_ROUNDS (5), SIDE_SECONDS (20 per round), SIDE_CONNECTIONS (2 per server).

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { resolve } from "node:path";
import { npmStartArgs } from "./npm-start.ts";

const ROUNDS = Number(process.env.SIDE_ROUNDS ?? 5);
const SECONDS = Number(process.env.SIDE_SECONDS ?? 20);
const CONNECTIONS = Number(process.env.SIDE_CONNECTIONS ?? 2);
const HELLO = JSON.stringify({ script: 'def main():\n    return "hello"\n' });
const TICK_MS = 1000 / Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim() || 100);

interface Server {
  readonly name: string;
  readonly port: number;
  readonly child: ChildProcess;
}

const checkouts = process.argv.slice(2, 4).map((dir) => resolve(dir));
if (checkouts.length !== 2) throw new Error("usage: node bench/side-by-side.ts <checkout A> <checkout B>");

/** A checkout's server as `npm start` starts it (its V8 flags, then the built server). */
function start(dir: string, port: number): ChildProcess {
  const env = { ...process.env, PORT: String(port), HOST: "127.0.0.1", API_KEYS: "", SANDBOX_BACKEND: "nsjail", SANDBOX_MODE: "zygote", LOG_LEVEL: "warn" };
  return spawn("node", npmStartArgs(dir), { env, stdio: "ignore" });
}

/** User and system CPU ticks of a process's main thread, or of all its threads. */
function ticks(pid: number, mainThreadOnly: boolean): number {
  const stat = readFileSync(mainThreadOnly ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

function hello(port: number, agent: Agent): Promise<number> {
  return new Promise((done, fail) => {
    const sent = request({ port, host: "127.0.0.1", path: "/execute", method: "POST", agent, headers: { "content-type": "application/json" } }, (response) => {
      response.resume();
      response.on("end", () => done(response.statusCode ?? 0));
    });
    sent.on("error", fail);
    sent.end(HELLO);
  });
}

/** Hellos on CONNECTIONS connections, each sending its next as its last is answered, for `ms`: how many were answered. */
async function load(server: Server, ms: number): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const end = performance.now() + ms;
  let answered = 0;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() < end) {
        const status = await hello(server.port, agent);
        if (status !== 200) throw new Error(`${server.name} answered a hello with ${status}`);
        answered++;
      }
    }),
  );
  agent.destroy();
  return answered;
}

async function healthy(server: Server): Promise<void> {
  for (let attempt = 0; attempt < 600; attempt++) {
    if (
      await fetch(`http://127.0.0.1:${server.port}/health`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    await new Promise((wait) => setTimeout(wait, 200));
  }
  throw new Error(`${server.name} did not become healthy`);
}

const servers: Server[] = checkouts.map((dir, i) => ({ name: dir, port: 18_961 + i, child: start(dir, 18_961 + i) }));
try {
  await Promise.all(servers.map(healthy));
  await Promise.all(servers.map((server) => load(server, 5000)));
  console.log(`${ROUNDS} rounds of ${SECONDS} s, ${CONNECTIONS} connections per server; CPU per hello in ms (main thread / whole Node process)`);
  for (let round = 1; round <= ROUNDS; round++) {
    const pids = servers.map((server) => server.child.pid ?? 0);
    const before = pids.map((pid) => [ticks(pid, true), ticks(pid, false)]);
    const answered = await Promise.all(servers.map((server) => load(server, SECONDS * 1000)));
    const after = pids.map((pid) => [ticks(pid, true), ticks(pid, false)]);
    const perRequest = (i: number, which: number) => (((after[i]![which]! - before[i]![which]!) * TICK_MS) / answered[i]!).toFixed(2);
    console.log(
      `round ${round}: ${servers.map((server, i) => `${server.name}: ${answered[i]} hellos, ${perRequest(i, 0)} / ${perRequest(i, 1)}`).join(" | ")}`,
    );
  }
} finally {
  for (const server of servers) server.child.kill("SIGTERM");
}
