/**
 * What one run could use up or observe for every other run and the host: kernel objects kept
 * after a run, per-user counters shared with host root, inotify on the shared mounts, socket
 * families that leave the network namespace, the disk. Real nsjail backend, in both its modes;
 * skipped loudly where nsjail cannot run, a failure under REQUIRE_NSJAIL=1.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { blockDevicesOf } from "../../adapters/cgroups/block-devices.js";
import { detectCgroups } from "../../adapters/cgroups/cgroup.js";
import { evictFromPageCache, memoryCgroupCount } from "../support/memory-accounting.js";
import { eachMode, nsjailModes } from "../support/nsjail.js";
import { appOver, runtime } from "../support/real-app.js";
import { type App, execute, py } from "../support/requests.js";

/** The per-run IO limit is off by default (docs/sandbox.md says why); here it is on, to show it holds. */
const IO_MB_PER_SEC = 100;
const modes = await nsjailModes({ SANDBOX_IO_MB_PER_SEC: String(IO_MB_PER_SEC) });

/** The slot groups that exist now, in every hierarchy: the only cgroups runs may add. */
function slotGroupCount(): number {
  const mode = detectCgroups({ prepare: false }).mode;
  const parents = mode.version === "v1" ? [mode.memoryMount, mode.pidsMount].map((m) => join(m, mode.parent)) : mode.version === "v2" ? [mode.mount] : [];
  return parents.flatMap((parent) => readdirSync(parent).filter((entry) => entry.startsWith("uid-"))).length;
}

/**
 * What throttles a run's block IO on this host: an IO controller over the slot groups, and the
 * disks the runtime is read from (none where it sits on overlayfs, tmpfs or an initramfs, as in
 * the cgroup v2 VM). Undefined where either is missing: then nothing can be throttled.
 */
function ioThrottling(): { controller: string; slots: string; file: string; devices: string[] } | undefined {
  const devices = blockDevicesOf([runtime().venvDir, "/usr"]);
  const mode = detectCgroups({ prepare: false }).mode;
  if (devices.length === 0) return undefined;
  if (mode.version === "v1" && mode.blkioMount !== undefined) {
    return { controller: "blkio.throttle", slots: join(mode.blkioMount, mode.parent), file: "blkio.throttle.read_bps_device", devices };
  }
  if (mode.version === "v2" && mode.io) return { controller: "io.max", slots: mode.mount, file: "io.max", devices };
  return undefined;
}

eachMode(modes)("nsjail ($mode): what runs share", ({ sandbox, info }) => {
  let app: App;
  // The sandbox has prepared the host's cgroups by now.
  const io = ioThrottling();

  beforeAll(async () => {
    app = await appOver(sandbox);
  });

  afterAll(async () => {
    await sandbox.close();
  });

  it("leaves the host's memory-cgroup count flat over runs that read uncached pages", async () => {
    const files = readdirSync("/usr/share/zoneinfo/Europe")
      .map((name) => `/usr/share/zoneinfo/Europe/${name}`)
      .slice(0, 20);
    const read = (file: string) => py`
      def main():
          with open(${JSON.stringify(file)}, "rb") as f:
              return len(f.read())
    `;
    // Warm-up: the slot groups this load needs exist from now on.
    for (const file of files.slice(0, 3)) expect((await execute(app, read(file))).status).toBe(200);
    const before = { cgroups: memoryCgroupCount(), slots: slotGroupCount() };
    for (const file of files) {
      evictFromPageCache(file);
      const res = await execute(app, read(file));
      expect(res.status, res.text).toBe(200);
    }
    const after = { cgroups: memoryCgroupCount(), slots: slotGroupCount() };
    // A cgroup per run left ~one dying memory cgroup per run; slots are only made for new
    // peaks of concurrency (other test files run beside this one), plus a little host noise.
    expect(after.cgroups - before.cgroups).toBeLessThanOrEqual(after.slots - before.slots + 2);
  });

  it("cannot use inotify or fanotify, which count against host root and see other runs' opens", async () => {
    const res = await execute(
      app,
      py`
      import ctypes, os

      libc = ctypes.CDLL(None, use_errno=True)

      def outcome(result):
          return "allowed" if result >= 0 else os.strerror(ctypes.get_errno())

      def main():
          return {
              "inotify_init1": outcome(libc.inotify_init1(0)),
              "inotify_init": outcome(libc.syscall(253)),
              "fanotify_init": outcome(libc.fanotify_init(0, 0)),
          }
    `,
    );
    expect(res.status, res.text).toBe(200);
    expect(res.body.result).toEqual({
      inotify_init1: "Operation not permitted",
      inotify_init: "Operation not permitted",
      fanotify_init: "Operation not permitted",
    });
  });

  it("can queue only a few signals, so host root's RLIMIT_SIGPENDING is not used up", async () => {
    // Real-time signals queue one entry per send; kill() and I/O signals are exempt from the
    // sender's RLIMIT_SIGPENDING, so they are refused outright. Standard signals coalesce.
    const res = await execute<{ limit: [number, number]; [name: string]: unknown }>(
      app,
      py`
      import ctypes, fcntl, os, resource, signal, threading

      libc = ctypes.CDLL(None, use_errno=True)

      def errno_of(call):
          try:
              call()
              return "allowed"
          except OSError as e:
              return e.errno

      def main():
          signal.signal(signal.SIGRTMIN, lambda *_: None)
          signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGRTMIN, signal.SIGUSR1])
          r, w = os.pipe()
          for _ in range(1000):
              os.kill(os.getpid(), signal.SIGUSR1)
          return {
              "kill": errno_of(lambda: os.kill(os.getpid(), signal.SIGRTMIN)),
              "tgkill": errno_of(lambda: signal.pthread_kill(threading.get_ident(), signal.SIGRTMIN)),
              "sigqueue": libc.syscall(129, os.getpid(), int(signal.SIGRTMIN), None) == -1 and ctypes.get_errno(),
              "F_SETSIG": errno_of(lambda: fcntl.fcntl(r, 10, int(signal.SIGRTMIN))),
              # The same command with a high bit set: the kernel reads cmd as an int.
              "F_SETSIG high bits": libc.syscall(72, r, ctypes.c_uint64(0x10000000A), int(signal.SIGRTMIN)) == -1 and ctypes.get_errno(),
              "pending": sorted(int(s) for s in signal.sigpending()),
              "limit": resource.getrlimit(resource.RLIMIT_SIGPENDING),
          }
    `,
    );
    expect(res.status, res.text).toBe(200);
    expect(res.body.result).toMatchObject({ kill: 1, tgkill: 1, sigqueue: 1, F_SETSIG: 1, "F_SETSIG high bits": 1, pending: [10] });
    expect(res.body.result.limit[1]).toBeLessThanOrEqual(64);
  });

  it("can create sockets of AF_UNIX, AF_INET and AF_INET6 only; AF_VSOCK and every other family is refused", async () => {
    const res = await execute(
      app,
      py`
      import socket

      def main():
          allowed = []
          for family in range(1, 46):
              for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM, socket.SOCK_RAW):
                  try:
                      socket.socket(family, kind).close()
                      allowed.append(family)
                      break
                  except OSError:
                      pass
          try:
              socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
              vsock = "created"
          except OSError as e:
              vsock = e.errno
          return {"allowed": allowed, "vsock": vsock}
    `,
    );
    expect(res.status, res.text).toBe(200);
    expect(res.body.result).toEqual({ allowed: [1, 2, 10], vsock: 97 });
  });

  it("cannot evict the shared page cache with POSIX_FADV_DONTNEED", async () => {
    const res = await execute(
      app,
      py`
      import os

      def main():
          fd = os.open("/usr/share/zoneinfo/UTC", os.O_RDONLY)
          try:
              os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
              return "evicted"
          except OSError as e:
              return e.errno
    `,
    );
    expect(res.status, res.text).toBe(200);
    expect(res.body.result).toBe(1); // EPERM
  });

  it("reports block IO as throttled with SANDBOX_IO_MB_PER_SEC set exactly where this host can throttle it, else as not limited", () => {
    expect(info.limits.io).toBe(io === undefined ? "not limited" : `cgroup (${io.controller})`);
  });

  it.runIf(io !== undefined)("throttles each run's block IO on the disk that holds the runtime, when SANDBOX_IO_MB_PER_SEC is set", async () => {
    const { slots, file, devices } = io!;
    const res = await execute(app, "def main():\n    return 1\n");
    expect(res.status, res.text).toBe(200);
    const bytesPerSecond = IO_MB_PER_SEC * 1024 * 1024;
    const limits = readdirSync(slots)
      .filter((entry) => entry.startsWith("uid-"))
      .map((slot) => readFileSync(join(slots, slot, file), "utf8"));
    expect(limits.length).toBeGreaterThan(0);
    for (const limit of limits) {
      for (const device of devices) expect(limit).toMatch(new RegExp(`^${device} (rbps=)?${bytesPerSecond}\\b`, "m"));
    }
  });

  it("sees no host path of the checkout in what the jail mounts of the venv", async () => {
    const res = await execute<{ found: string[]; scanned: number; top: string[] }>(
      app,
      py`
      import os

      def main():
          needle = ${JSON.stringify(runtime().venvDir)}.encode()
          found, scanned = [], 0
          for root, dirs, names in os.walk("/sandbox/venv"):
              for name in names:
                  path = os.path.join(root, name)
                  if os.path.islink(path) or os.path.getsize(path) > (8 << 20):
                      continue
                  with open(path, "rb") as f:
                      if needle in f.read():
                          found.append(path)
                  scanned += 1
          return {"found": found[:10], "scanned": scanned, "top": sorted(os.listdir("/sandbox/venv"))}
    `,
    );
    expect(res.status, res.text).toBe(200);
    expect(res.body.result.found).toEqual([]);
    expect(res.body.result.scanned).toBeGreaterThan(1000);
    expect(res.body.result.top).toEqual(["bin", "lib", "pyvenv.cfg"]);
  });
});
