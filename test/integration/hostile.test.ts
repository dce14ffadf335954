/**
 * Scripts that try to outlive, outgrow or look around their sandbox: fork bombs, detached
 * children that ignore SIGTERM, the server's environment, files left for the next run. On
 * both backends; where a backend shows something differently (the jail has no /proc and no
 * /tmp, a work dir at the same path in every jail, uid 65534), each has its own expectation.
 */
import { existsSync } from "node:fs";
import { readlink, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JAIL_WORK_DIR } from "../../adapters/python/protocol-facts.js";
import { SANDBOX_UID_BASE, SANDBOX_UID_COUNT } from "../../adapters/run/sandbox-uids.js";
import { backends, closeSandboxes, realApp } from "../support/backends.js";
import { processesMatching, processesSeeing, survivorsMatching, survivorsSeeing } from "../support/processes.js";
import { slowed, testConfig } from "../support/real-app.js";
import { type App, execute, expectStatus, py, uniqueMarker } from "../support/requests.js";
import { isRoot, itAsRoot } from "../support/root.js";

describe.each(await backends("subprocess", "nsjail", "nsjail zygote"))("$name", (backend) => {
  const jailed = backend.kind === "nsjail";
  let app: App;
  let shortApp: App;
  beforeAll(async () => {
    app = await realApp({}, backend);
    shortApp = await realApp({ EXECUTION_TIMEOUT_MS: "2000" }, backend);
  });
  afterAll(closeSandboxes);

  /**
   * The live processes of one run, whose script created the file `mark` in its work dir `cwd`.
   * Every process the subprocess backend starts for a run carries HOME=<its own work dir> in
   * its initial environment. Every jail's work dir is /sandbox/work, so there the run's
   * processes are the ones that see its file of a unique name.
   */
  const processesOfRun = (cwd: string, mark: string) => (jailed ? processesSeeing(join(cwd, mark)) : processesMatching(`HOME=${cwd}\0`));
  const survivorsOfRun = (cwd: string, mark: string) => (jailed ? survivorsSeeing(join(cwd, mark)) : survivorsMatching(`HOME=${cwd}\0`));

  describe("nothing is left running after the response", () => {
    itAsRoot("a guarded fork bomb runs into the process limit, times out, and every process is gone", async () => {
      const mark = `run-${uniqueMarker()}`;
      // It never ends by itself: the limit must only leave room for 64 forks on a busy machine.
      const res = await execute(
        await realApp({ EXECUTION_TIMEOUT_MS: slowed(8000) }, backend),
        py`
        import os
        import time

        def main():
            open("${mark}", "w").close()
            root = os.getpid()
            print(os.getcwd(), flush=True)
            said = set()
            while True:
                try:
                    os.fork()
                    if os.getpid() == root and "forked" not in said:
                        said.add("forked")
                        print("forked", flush=True)
                except OSError:
                    if os.getpid() == root and "limit" not in said:
                        said.add("limit")
                        print("limit hit", flush=True)
                    time.sleep(0.01)
      `,
      );
      expectStatus(res, 408);
      expect(res.body.code).toBe("TIMEOUT");
      const [workDir, ...events] = (res.body.stdout as string).trimEnd().split("\n");
      expect(workDir).toMatch(/^\//);
      expect(events).toEqual(["forked", "limit hit"]);
      expect(await survivorsOfRun(workDir!, mark)).toEqual([]);
    });

    itAsRoot("a double-forked setsid() child that ignores SIGTERM and SIGHUP is killed too", async () => {
      const marker = `86400.${uniqueMarker()}`; // a valid `sleep` duration no other process uses
      const mark = `run-${uniqueMarker()}`;
      // The script holds main() open until the test has seen the child running and removed
      // the file `hold` from the work dir (no /proc in a jail: the script cannot look itself).
      const pending = execute(
        app,
        py`
        import os
        import signal
        import time

        MARKER = "${marker}"

        def main():
            open("${mark}", "w").close()
            open("hold", "w").close()
            read_end, write_end = os.pipe()
            child = os.fork()
            if child == 0:
                os.setsid()
                grandchild = os.fork()
                if grandchild != 0:
                    os.write(write_end, str(grandchild).encode())
                    os._exit(0)
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                signal.signal(signal.SIGHUP, signal.SIG_IGN)
                os.execv("/bin/sleep", ["sleep", MARKER])
            os.close(write_end)
            os.waitpid(child, 0)
            pid = int(os.read(read_end, 100))
            deadline = time.monotonic() + 20
            while os.path.exists("hold") and time.monotonic() < deadline:
                time.sleep(0.02)
            return {"pid": pid, "detached": os.getsid(pid) != os.getsid(0), "released": not os.path.exists("hold"), "cwd": os.getcwd()}
      `,
      );
      let sleeping = await processesMatching(`sleep\0${marker}`);
      for (let i = 0; i < 400 && sleeping.length === 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        sleeping = await processesMatching(`sleep\0${marker}`);
      }
      // The child is really running, with the run's other processes, before main() returns ...
      expect(sleeping.map((p) => p.cmdline.trim())).toEqual([`sleep ${marker}`]);
      const sleeper = sleeping[0]!.pid;
      const cwd = jailed ? JAIL_WORK_DIR : await readlink(`/proc/${sleeper}/cwd`);
      expect((await processesOfRun(cwd, mark)).map((p) => p.pid)).toContain(sleeper);
      await rm(`/proc/${sleeper}/cwd/hold`);
      const res = await pending;
      expectStatus(res, 200);
      // ... in a session of its own ...
      expect(res.body.result).toMatchObject({ pid: expect.any(Number), detached: true, released: true, cwd });
      expect(res.body.durationMs).toBeLessThan(testConfig().executionTimeoutMs);
      // ... and nothing of the run is left now that the response is here.
      expect(await survivorsMatching(marker)).toEqual([]);
      expect(await survivorsOfRun(cwd, mark)).toEqual([]);
    });

    itAsRoot("a detached Python child that ignores SIGTERM and closed stdio (keeping the result pipe) does not survive either", async () => {
      const mark = `run-${uniqueMarker()}`;
      const res = await execute(
        app,
        py`
        import os
        import signal
        import time

        def main():
            open("${mark}", "w").close()
            if os.fork() == 0:
                os.setsid()
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                for fd in (0, 1, 2):
                    os.close(fd)
                while True:
                    time.sleep(1)
            return os.getcwd()
      `,
      );
      expectStatus(res, 200);
      // The run ended when the harness did, not when the time limit reached the child holding its pipes.
      expect(res.body.durationMs).toBeLessThan(testConfig().executionTimeoutMs);
      expect(await survivorsOfRun(res.body.result as string, mark)).toEqual([]);
    });

    it("a background thread still running after main() returned does not hold the response", async () => {
      const res = await execute(
        shortApp,
        py`
        import threading
        import time

        def main():
            threading.Thread(target=time.sleep, args=(3600,)).start()
            return "returned"
      `,
      );
      expectStatus(res, 200);
      expect(res.body.result).toBe("returned");
    });
  });

  describe("the server's environment is not visible", () => {
    const ALLOWED = [
      "PATH",
      "HOME",
      "TMPDIR",
      "MPLCONFIGDIR",
      "XDG_CACHE_HOME",
      "MPLBACKEND",
      "LANG",
      "LC_ALL",
      "PYTHONUTF8",
      "PYTHONUNBUFFERED",
      "PYTHONDONTWRITEBYTECODE",
      "OPENBLAS_NUM_THREADS",
      "OMP_NUM_THREADS",
      "MKL_NUM_THREADS",
      "NUMEXPR_NUM_THREADS",
      "MALLOC_ARENA_MAX",
      "OPENBLAS_CORETYPE",
      "OPENBLAS_L2_SIZE",
    ];

    it("os.environ holds only the allowlist, never a variable of the server", async () => {
      const secret = `secret-${uniqueMarker()}`;
      process.env.SECRET_TOKEN_FOR_TEST = secret;
      try {
        const res = await execute<{ env: Record<string, string>; cwd: string }>(
          app,
          "import os\ndef main():\n    return {'env': dict(os.environ), 'cwd': os.getcwd()}\n",
        );
        expectStatus(res, 200);
        const env = res.body.result.env as Record<string, string>;
        expect(env).not.toHaveProperty("SECRET_TOKEN_FOR_TEST");
        expect(res.text).not.toContain(secret);
        for (const key of Object.keys(env)) expect(ALLOWED).toContain(key);
        expect(env.HOME).toBe(res.body.result.cwd);
        expect(env.OPENBLAS_NUM_THREADS).toBe("1");
        expect(env.OMP_NUM_THREADS).toBe("1");
      } finally {
        delete process.env.SECRET_TOKEN_FOR_TEST;
      }
    });

    itAsRoot("the server process cannot be read or signalled from the script", async () => {
      const res = await execute(
        app,
        py`
        import os
        import signal

        def attempt(action):
            try:
                action()
                return "allowed"
            except OSError as exc:
                return type(exc).__name__

        def main():
            server = ${process.pid}
            return {
                "ppid": os.getppid(),
                "read_environ": attempt(lambda: open(f"/proc/{server}/environ", "rb").read()),
                "signal": attempt(lambda: os.kill(server, 0)),
            }
      `,
      );
      expectStatus(res, 200);
      if (jailed) {
        // The server is outside the jail's pid namespace (and there is no /proc): it does not exist for the script.
        expect(res.body.result).toEqual({ ppid: 0, read_environ: "FileNotFoundError", signal: "ProcessLookupError" });
      } else {
        expect(res.body.result).toEqual({ ppid: process.pid, read_environ: "PermissionError", signal: "PermissionError" });
      }
    });
  });

  describe("identity and limits inside the sandbox", () => {
    itAsRoot("a root server runs scripts under an unprivileged uid: of the sandbox range, or 65534 in a jail", async () => {
      const res = await execute(app, "import os\ndef main():\n    return [os.getuid(), os.geteuid(), os.getgid(), os.getgroups()]\n");
      expectStatus(res, 200);
      const [uid, euid, gid, groups] = res.body.result as [number, number, number, number[]];
      if (jailed) {
        // nobody inside; outside, a uid of the sandbox range of its own (nsjail-argv.test.ts).
        expect(uid).toBe(65534);
      } else {
        expect(uid).toBeGreaterThanOrEqual(SANDBOX_UID_BASE);
        expect(uid).toBeLessThan(SANDBOX_UID_BASE + SANDBOX_UID_COUNT);
      }
      expect(euid).toBe(uid);
      expect(gid).toBe(uid);
      expect(groups.every((group) => group === gid)).toBe(true);
    });

    it("rlimits are in place before the script's first line: memory, core dumps, processes", async () => {
      const res = await execute<Record<"RLIMIT_AS" | "RLIMIT_CORE" | "RLIMIT_NPROC", [number, number]>>(
        app,
        "import resource\nlimits = {name: resource.getrlimit(getattr(resource, name)) for name in ('RLIMIT_AS', 'RLIMIT_CORE', 'RLIMIT_NPROC')}\ndef main():\n    return limits\n",
        { memoryMb: 300 },
      );
      expectStatus(res, 200);
      if (jailed) {
        // The jail's memory limit is its cgroup (errors.test.ts shows memoryMb at work); an
        // address-space limit would only stop numpy and OpenBLAS from reserving address space.
        expect(res.body.result.RLIMIT_AS).toEqual([-1, -1]);
      } else {
        expect(res.body.result.RLIMIT_AS).toEqual([300 * 1024 * 1024, 300 * 1024 * 1024]);
      }
      expect(res.body.result.RLIMIT_CORE).toEqual([0, 0]);
      if (isRoot) expect(res.body.result.RLIMIT_NPROC[0]).toBeGreaterThan(0);
    });
  });

  describe("stdin is empty", () => {
    it("input() raises EOFError, reads return nothing", async () => {
      const res = await execute(
        app,
        py`
        import os
        import sys

        def main():
            try:
                input("prompt> ")
                got = "a line"
            except EOFError:
                got = "EOFError"
            return {"input": got, "read": sys.stdin.read(), "fd0": os.read(0, 100).decode()}
      `,
      );
      expectStatus(res, 200);
      expect(res.body.result).toEqual({ input: "EOFError", read: "", fd0: "" });
      expect(res.body.stdout).toBe("prompt> ");
    });
  });

  describe("the working directory", () => {
    it("is a fresh, empty, writable temp dir of its own, removed afterwards", async () => {
      const script = py`
        import os

        def main():
            before = sorted(os.listdir("."))
            with open("note.txt", "w") as f:
                f.write("written")
            with open("note.txt") as f:
                back = f.read()
            return {"cwd": os.getcwd(), "before": before, "back": back, "own_filesystem": os.stat(".").st_dev != os.stat("..").st_dev}
      `;
      const first = await execute<{ cwd: string; before: string[]; back: string; own_filesystem: boolean }>(app, script);
      const second = await execute<{ cwd: string; before: string[]; back: string; own_filesystem: boolean }>(app, script);
      for (const res of [first, second]) {
        expectStatus(res, 200);
        expect(res.body.result.before).toEqual([]);
        expect(res.body.result.back).toBe("written");
        if (jailed) {
          // Every jail has the same path, on a tmpfs of its own that goes with the jail.
          expect(res.body.result.cwd).toBe(JAIL_WORK_DIR);
          expect(res.body.result.own_filesystem).toBe(true);
        } else {
          expect(res.body.result.cwd.startsWith(tmpdir())).toBe(true);
          expect(existsSync(res.body.result.cwd as string)).toBe(false);
        }
      }
      if (!jailed) expect(first.body.result.cwd).not.toBe(second.body.result.cwd);
    });

    itAsRoot("nothing a run writes, in its work dir or the shared temp dirs, is visible to the next run", async () => {
      const name = `left-by-a-run-${uniqueMarker()}`;
      const places = ["/tmp", "/var/tmp", "/dev/shm", "/run/lock"].filter((dir) => existsSync(dir));
      const writer = await execute(
        app,
        py`
        import os

        def main():
            written = []
            for directory in [os.getcwd(), *${JSON.stringify(places)}]:
                try:
                    with open(os.path.join(directory, "${name}"), "w") as f:
                        f.write("left behind")
                    written.append(directory)
                except OSError:
                    pass
            return written
      `,
      );
      expectStatus(writer, 200);
      const written = writer.body.result as string[];
      // The jail has no shared temp dir at all: the work dir is the only writable place.
      if (jailed) expect(written).toEqual([JAIL_WORK_DIR]);
      else expect(written).toContain("/tmp");
      try {
        expect([...written, ...places].filter((dir) => existsSync(join(dir, name)))).toEqual([]);
        const reader = await execute(
          app,
          py`
          import os

          def main():
              return [d for d in [os.getcwd(), *${JSON.stringify(written)}] if os.path.exists(os.path.join(d, "${name}"))]
        `,
        );
        expectStatus(reader, 200);
        expect(reader.body.result).toEqual([]);
      } finally {
        await Promise.all(places.map((dir) => rm(join(dir, name), { force: true })));
      }
    });

    it("a file the server's side put in /tmp is not deleted by the clean-up (nor visible in a jail)", async () => {
      const path = join("/tmp", `server-owned-${uniqueMarker()}`);
      await writeFile(path, "not the run's");
      try {
        const res = await execute(app, `def main():\n    return open(${JSON.stringify(path)}).read()\n`);
        if (jailed) {
          expectStatus(res, 400);
          expect(res.body.error).toMatch(/^FileNotFoundError/);
        } else {
          expect(res.body.result).toBe("not the run's");
        }
        expect(existsSync(path)).toBe(true);
      } finally {
        await rm(path, { force: true });
      }
    });
  });
});
