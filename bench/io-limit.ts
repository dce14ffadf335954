// `npm run build && node bench/io-limit.ts` (root, nsjail): what the per-run read limit (SANDBOX_IO_MB_PER_SEC)
// buys and what it costs, measured side by side with the limit on and off, on the fork server.
//
// - cost: a run reading a 256 MiB file just dropped from the page cache, alone (cold reads of
//   the runtime are what the limit slows);
// - what it buys: the same run while another run reads the disk as fast as it can (O_DIRECT,
//   8 threads), i.e. how much one run can slow the others' cold reads;
// - the unkillable time: a run whose threads are in O_DIRECT reads when its time limit comes
//   (test/nsjail/isolation.test.ts's attack): how long its processes outlive their answer.

import { execFileSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { access, readdir } from "node:fs/promises";
import { pino } from "pino";
import type { SandboxPort } from "../domain/sandbox.port.js";

// The built server's modules (Node runs this file's TypeScript, not the imports' .js names).
const built = (module: string): Promise<unknown> => import(new URL(`../dist/src/${module}`, import.meta.url).href);
const { loadConfig } = (await built("config.js")) as typeof import("../src/config.js");
const { harnessRuntime, projectRoot } = (await built("project-paths.js")) as typeof import("../src/project-paths.js");
const { startSandbox } = (await built("sandbox-factory.js")) as typeof import("../src/sandbox-factory.js");
const { MIB } = (await import(new URL("../dist/domain/units.js", import.meta.url).href)) as typeof import("../domain/units.js");

/** Whether any thread sees `path` in its own view of the filesystem (a run's marker file in its work dir). */
async function anyThreadSees(path: string): Promise<boolean> {
  for (const pid of await readdir("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    // A killed thread group's leader may be gone while its threads wait in the kernel.
    for (const tid of await readdir(`/proc/${pid}/task`).catch(() => [])) {
      if (
        await access(`/proc/${pid}/task/${tid}/root${path}`).then(
          () => true,
          () => false,
        )
      )
        return true;
    }
  }
  return false;
}

const FILE = ["/usr/lib/x86_64-linux-gnu/libLLVM-15.so.1", "/usr/lib/chromium/chromium"].find((path) => existsSync(path) && statSync(path).size >= 256 * MIB);
if (FILE === undefined) throw new Error("no file of 256 MiB or more under /usr/lib to read");

const evict = () => execFileSync("dd", [`if=${FILE}`, "iflag=nocache", "count=0", "status=none"]);

const reader = (seconds: number) => `
import os, threading, time
def main():
    f = os.open(${JSON.stringify(FILE)}, os.O_RDONLY | os.O_DIRECT)
    import mmap
    buffers = [mmap.mmap(-1, 8 << 20) for _ in range(8)]
    size = os.fstat(f).st_size - (8 << 20)
    end = time.monotonic() + ${seconds}
    def read(buffer):
        while time.monotonic() < end:
            for offset in range(0, size, 8 << 20):
                os.preadv(f, [buffer], offset)
    threads = [threading.Thread(target=read, args=(b,)) for b in buffers]
    for t in threads: t.start()
    for t in threads: t.join()
`;

const coldRead = `
import time
def main():
    started = time.monotonic()
    with open(${JSON.stringify(FILE)}, "rb") as f:
        f.read(256 << 20)
    return time.monotonic() - started
`;

const attack = (mark: string) => `
import mmap, os, threading
def main():
    open(${JSON.stringify(mark)}, "w").close()
    memory = os.memfd_create("buffer")
    os.ftruncate(memory, 8 << 20)
    views = [mmap.mmap(memory, 8 << 20) for _ in range(32)]
    f = os.open(${JSON.stringify(FILE)}, os.O_RDONLY | os.O_DIRECT)
    def read_all():
        while True:
            os.preadv(f, views, 0)
    for _ in range(20):
        threading.Thread(target=read_all, daemon=True).start()
    threading.Event().wait()
`;

async function seconds(sandbox: SandboxPort, script: string): Promise<number> {
  const outcome = await sandbox.run({ script, timeoutMs: 60_000, memoryMb: 512 });
  if (!outcome.ok) throw new Error(`${outcome.error.code}: ${outcome.error.message}`);
  return JSON.parse(outcome.value.resultJson) as number;
}

async function measure(ioMbPerSec: number): Promise<Record<string, string>> {
  const config = loadConfig({
    SANDBOX_BACKEND: "nsjail",
    SANDBOX_MODE: "zygote",
    POOL_SIZE: "0",
    SANDBOX_IO_MB_PER_SEC: String(ioMbPerSec),
    MAX_CONCURRENCY: "4",
  });
  const { sandbox } = await startSandbox(config, harnessRuntime(projectRoot(), undefined), pino({ level: "silent" }));
  try {
    evict();
    const alone = await seconds(sandbox, coldRead);
    const hog = sandbox.run({ script: reader(6), timeoutMs: 60_000, memoryMb: 512 });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    evict();
    const beside = await seconds(sandbox, coldRead);
    await hog;
    const mark = `attack-${process.pid}-${Date.now()}`;
    const started = performance.now();
    const answer = await sandbox.run({ script: attack(mark), timeoutMs: 2000, memoryMb: 512 });
    const answeredAt = performance.now();
    while (await anyThreadSees(`/sandbox/work/${mark}`)) await new Promise((resolve) => setTimeout(resolve, 100));
    const goneAt = performance.now();
    return {
      SANDBOX_IO_MB_PER_SEC: String(ioMbPerSec),
      "cold 256 MiB read alone": `${alone.toFixed(2)} s`,
      "beside a run reading at full speed": `${beside.toFixed(2)} s`,
      "attack answered after": `${((answeredAt - started) / 1000).toFixed(1)} s (${answer.ok ? "ok" : answer.error.code})`,
      "its processes gone after": `${((goneAt - started) / 1000).toFixed(1)} s`,
    };
  } finally {
    await sandbox.close();
  }
}

const rows = [];
for (const limit of [100, 0]) rows.push(await measure(limit));
console.table(rows);
