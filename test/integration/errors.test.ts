/**
 * Every error code a script can produce, through the real harness and a real Python, on
 * both backends (subprocess and nsjail): the codes are the same whichever sandbox runs the script.
 * (The codes a request produces before any script runs are in http-edge.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backends, closeSandboxes, realApp } from "../support/backends.js";
import { type App, execute, expectStatus, py } from "../support/requests.js";
import { itAsRoot } from "../support/root.js";

describe.each(await backends("subprocess", "nsjail", "nsjail zygote"))("$name", (backend) => {
  let app: App;
  beforeAll(async () => {
    app = await realApp({ EXECUTION_TIMEOUT_MS: "30000" }, backend);
  });
  afterAll(closeSandboxes);

  describe("SYNTAX_ERROR (400)", () => {
    it("names line and column, and nothing of the script ran", async () => {
      const res = await execute(
        app,
        py`
        print("top level never runs")

        def main():
            return (1 +
      `,
      );
      expectStatus(res, 400);
      expect(res.body.code).toBe("SYNTAX_ERROR");
      expect(res.body.error).toMatch(/script\.py, line 4, column \d+/);
      expect(res.body.traceback).toContain('File "script.py", line 4');
      expect(res.body.stdout).toBe("");
    });

    it("an IndentationError is a syntax error too", async () => {
      const res = await execute(app, "def main():\nreturn 1\n");
      expectStatus(res, 400);
      expect(res.body.code).toBe("SYNTAX_ERROR");
      expect(res.body.error).toMatch(/line 2\b/);
    });

    it("a NUL byte in the source is a syntax error, not a crash", async () => {
      const res = await execute(app, "def main():\n    return 1\n\0");
      expectStatus(res, 400);
      expect(res.body.code).toBe("SYNTAX_ERROR");
    });
  });

  describe("MAIN_NOT_FOUND (400)", () => {
    it.each([
      ["no main at all", "x = 1\n", /No callable main\(\)/],
      ["a notebook cell, its last line an expression", "x = 2\nx * 21\n", /No callable main\(\)/],
      ["main = 42", "main = 42\n", /main is a int/],
      ["main = None", "main = None\n", /No callable main\(\)/],
      ["class main", "class main:\n    pass\n", /main is a class/],
      ["def main(x)", "def main(x):\n    return x\n", /requires: x/],
      ["def main(*, key)", "def main(*, key):\n    return key\n", /requires: key/],
    ])("%s", async (_name, script, message) => {
      const res = await execute(app, `print("top level ran")\n${script}`);
      expectStatus(res, 400);
      expect(res.body.code).toBe("MAIN_NOT_FOUND");
      expect(res.body.error).toMatch(message);
      expect(res.body.stdout).toBe("top level ran\n");
    });

    it("a main whose parameters all have defaults is called", async () => {
      const res = await execute(app, "def main(x=20, *args, **kwargs):\n    return [x, list(args), kwargs]\n");
      expectStatus(res, 200);
      expect(res.body.result).toEqual([20, [], {}]);
    });

    it("any callable main is called, e.g. a lambda", async () => {
      const res = await execute(app, "main = lambda: 'from a lambda'\n");
      expect(res.body.result).toBe("from a lambda");
    });
  });

  describe("RUNTIME_ERROR (400)", () => {
    it("an exception in main: the traceback shows the script's frames with line numbers, no harness frames", async () => {
      const res = await execute(
        app,
        py`
        def divide(a, b):
            return a / b

        def main():
            print("before the error")
            return divide(1, 0)
      `,
      );
      expectStatus(res, 400);
      expect(res.body.code).toBe("RUNTIME_ERROR");
      expect(res.body.error).toBe("ZeroDivisionError: division by zero");
      const traceback = res.body.traceback as string;
      expect(traceback).toMatch(/^Traceback \(most recent call last\):\n/);
      expect(traceback).toContain('File "script.py", line 6, in main\n    return divide(1, 0)');
      expect(traceback).toContain('File "script.py", line 2, in divide\n    return a / b');
      expect(traceback.indexOf("line 6, in main")).toBeLessThan(traceback.indexOf("line 2, in divide"));
      expect(traceback).toMatch(/ZeroDivisionError: division by zero\n$/);
      expect(traceback).not.toMatch(/harness/i);
      expect(res.body.stdout).toBe("before the error\n");
    });

    it("an exception at import time points at the module-level line", async () => {
      const res = await execute(
        app,
        py`
        import json
        print("loading")
        config = json.loads("{not json")

        def main():
            return config
      `,
      );
      expectStatus(res, 400);
      expect(res.body.code).toBe("RUNTIME_ERROR");
      expect(res.body.error).toMatch(/^json\.decoder\.JSONDecodeError: /);
      expect(res.body.traceback).toContain('File "script.py", line 3, in <module>');
      expect(res.body.traceback).not.toMatch(/harness/i);
      expect(res.body.stdout).toBe("loading\n");
    });

    it("an exception raised inside a library keeps the library frames after the script's", async () => {
      const res = await execute(
        app,
        py`
        import statistics

        def main():
            return statistics.mean([])
      `,
      );
      expectStatus(res, 400);
      expect(res.body.code).toBe("RUNTIME_ERROR");
      expect(res.body.error).toMatch(/^statistics\.StatisticsError: mean requires at least one data point/);
      const traceback = res.body.traceback as string;
      expect(traceback.split("\n")[1]).toBe('  File "script.py", line 4, in main');
      expect(traceback).toMatch(/File ".*statistics\.py", line \d+, in mean/);
      expect(traceback).not.toMatch(/harness/i);
    });

    it("chained exceptions show both, each from the script's frames", async () => {
      const res = await execute(
        app,
        py`
        def main():
            try:
                {}["key"]
            except KeyError as exc:
                raise ValueError("lookup failed") from exc
      `,
      );
      expect(res.body.code).toBe("RUNTIME_ERROR");
      expect(res.body.error).toBe("ValueError: lookup failed");
      expect(res.body.traceback).toContain('File "script.py", line 3, in main');
      expect(res.body.traceback).toContain("The above exception was the direct cause of the following exception");
      expect(res.body.traceback).toContain('File "script.py", line 5, in main');
    });

    it("a BaseException such as KeyboardInterrupt is a runtime error too", async () => {
      const res = await execute(app, "def main():\n    raise KeyboardInterrupt\n");
      expectStatus(res, 400);
      expect(res.body.code).toBe("RUNTIME_ERROR");
      expect(res.body.error).toBe("KeyboardInterrupt");
    });

    it("runaway recursion under the default limit is a RecursionError with a short traceback", async () => {
      const res = await execute(app, "def f(n):\n    return f(n + 1)\n\ndef main():\n    return f(0)\n");
      expectStatus(res, 400);
      expect(res.body.code).toBe("RUNTIME_ERROR");
      expect(res.body.error).toMatch(/^RecursionError: maximum recursion depth exceeded/);
      expect(res.body.traceback).toMatch(/\[Previous line repeated \d+ more times\]/);
    });

    it("a million-frame RecursionError is reported as such, not timed out formatting its traceback", async () => {
      const res = await execute(
        app,
        py`
        import sys
        sys.setrecursionlimit(10**6)

        def f(n):
            return f(n + 1) + 1

        def main():
            return f(0)
      `,
      );
      expectStatus(res, 400);
      expect(res.body.code).toBe("RUNTIME_ERROR");
      expect(res.body.error).toMatch(/^RecursionError/);
      expect(res.body.traceback).toContain('File "script.py", line 5, in f');
      expect((res.body.traceback as string).length).toBeLessThan(20_000);
    });
  });

  describe("SCRIPT_EXITED (400)", () => {
    it.each([
      ["sys.exit(3) in main", "import sys\ndef main():\n    print('bye')\n    sys.exit(3)\n"],
      ["sys.exit() in main", "import sys\ndef main():\n    print('bye')\n    sys.exit()\n"],
      ["exit() in main", "def main():\n    print('bye')\n    exit()\n"],
      ["quit() in main", "def main():\n    print('bye')\n    quit()\n"],
      ["raise SystemExit", "def main():\n    print('bye')\n    raise SystemExit('done')\n"],
      ["os._exit(0) in main", "import os\ndef main():\n    print('bye')\n    os._exit(0)\n"],
      ["os._exit(7) in main", "import os\ndef main():\n    print('bye')\n    os._exit(7)\n"],
      // 128 + SIGKILL and 128 + SIGXCPU: the script's own exit status, not a signal.
      ["os._exit(137) in main", "import os\ndef main():\n    print('bye')\n    os._exit(137)\n"],
      ["os._exit(152) in main", "import os\ndef main():\n    print('bye')\n    os._exit(152)\n"],
      ["sys.exit at top level", "import sys\nprint('bye')\nsys.exit(0)\ndef main():\n    return 1\n"],
      ["os._exit at top level", "import os\nprint('bye')\nos._exit(1)\ndef main():\n    return 1\n"],
    ])("%s", async (_name, script) => {
      const res = await execute(app, script);
      expectStatus(res, 400);
      expect(res.body.code).toBe("SCRIPT_EXITED");
      expect(res.body.error).toMatch(/before main\(\) returned/);
      expect(res.body.stdout).toBe("bye\n");
      expect(res.body).not.toHaveProperty("result");
    });

    it("names the exit status given to sys.exit", async () => {
      const res = await execute(app, "import sys\ndef main():\n    sys.exit(3)\n");
      expect(res.body.error).toContain("sys.exit(3)");
    });
  });

  describe("MEMORY_LIMIT_EXCEEDED (400)", () => {
    it("a numpy array far over the limit", async () => {
      const res = await execute(
        app,
        py`
        import numpy as np

        def main():
            print("allocating")
            return np.ones(1 << 31).sum()
      `,
      );
      expectStatus(res, 400);
      expect(res.body.code).toBe("MEMORY_LIMIT_EXCEEDED");
      expect(res.body.error).toContain("Memory limit exceeded");
      expect(res.body.stdout).toBe("allocating\n");
    });

    it("growing a string until memory runs out", async () => {
      const res = await execute(
        app,
        py`
        def main():
            chunks = []
            while True:
                chunks.append("x" * (16 << 20))
      `,
      );
      expectStatus(res, 400);
      expect(res.body.code).toBe("MEMORY_LIMIT_EXCEEDED");
      expect(res.body.error).toContain("Memory limit exceeded");
    });

    it("the per-request memoryMb lowers the limit for that run only", async () => {
      const script = "def main():\n    block = bytearray(160 << 20)\n    return len(block) >> 20\n";
      const small = await execute(app, script, { memoryMb: 100 });
      expectStatus(small, 400);
      expect(small.body.code).toBe("MEMORY_LIMIT_EXCEEDED");
      expect(small.body.error).toContain("Memory limit exceeded (100 MB)");
      const normal = await execute(app, script);
      expectStatus(normal, 200);
      expect(normal.body.result).toBe(160);
    });

    // A fork server's child finds numpy and pandas loaded: their memory is the fork server's.
    it.skipIf(backend.mode === "zygote")("a limit too small to even load numpy and pandas is the memory limit, not an ImportError", async () => {
      const res = await execute(app, "import pandas\ndef main():\n    return 1\n", { memoryMb: 40 });
      expectStatus(res, 400);
      expect(res.body.code).toBe("MEMORY_LIMIT_EXCEEDED");
      expect(res.body.error).toContain("Memory limit exceeded (40 MB)");
    });

    it.runIf(backend.mode === "zygote")("numpy and pandas, loaded by the fork server, do not count against a run's memory limit", async () => {
      const res = await execute(app, "import pandas as pd\ndef main():\n    return int(pd.Series([1, 2]).sum())\n", { memoryMb: 32 });
      expectStatus(res, 200);
      expect(res.body.result).toBe(3);
    });
  });

  describe("RESOURCE_LIMIT_EXCEEDED (400)", () => {
    it("recursion through C code that overflows the stack (SIGSEGV), prints kept", async () => {
      const res = await execute(
        app,
        py`
        import sys
        sys.setrecursionlimit(10**6)

        class Loop:
            def __repr__(self):
                return repr(self)

        def main():
            print("about to recurse")
            return repr(Loop())
      `,
      );
      expectStatus(res, 400);
      expect(res.body.code).toBe("RESOURCE_LIMIT_EXCEEDED");
      expect(res.body.error).toContain("SIGSEGV");
      expect(res.body.stdout).toBe("about to recurse\n");
    });

    it("a file written past the file-size limit", async () => {
      const res = await execute(
        app,
        py`
        def main():
            chunk = b"x" * (1 << 20)
            with open("big.bin", "wb") as f:
                for _ in range(100):
                    f.write(chunk)
            return "wrote 100 MiB"
      `,
      );
      expectStatus(res, 400);
      expect(res.body.code).toBe("RESOURCE_LIMIT_EXCEEDED");
      expect(res.body.error).toMatch(/^File size limit exceeded/);
      expect(res.body.traceback).toContain('File "script.py", line 5, in main');
    });

    it("too many open files", async () => {
      const res = await execute(app, "def main():\n    return [open(f'f{i}', 'w') for i in range(10000)]\n");
      expectStatus(res, 400);
      expect(res.body.code).toBe("RESOURCE_LIMIT_EXCEEDED");
      expect(res.body.error).toMatch(/^Open-file limit exceeded/);
    });

    itAsRoot("a fork bomb hitting the process limit", async () => {
      const res = await execute(
        app,
        py`
        import os

        def main():
            while True:
                os.fork()
      `,
      );
      expectStatus(res, 400);
      expect(res.body.code).toBe("RESOURCE_LIMIT_EXCEEDED");
      expect(res.body.error).toMatch(/^Process limit exceeded/);
    });

    itAsRoot("too many threads", async () => {
      const res = await execute(
        app,
        py`
        import threading

        def main():
            stop = threading.Event()
            threads = []
            for _ in range(1000):
                thread = threading.Thread(target=stop.wait, daemon=True)
                thread.start()
                threads.append(thread)
            return len(threads)
      `,
      );
      expectStatus(res, 400);
      expect(res.body.code).toBe("RESOURCE_LIMIT_EXCEEDED");
      expect(res.body.error).toMatch(/^Process limit exceeded/);
    });

    it("a script that handles the error itself keeps its result", async () => {
      const res = await execute(
        app,
        py`
        def main():
            try:
                with open("big.bin", "wb") as f:
                    f.write(b"x" * (100 << 20))
            except OSError as exc:
                return exc.strerror
      `,
      );
      expectStatus(res, 200);
      expect(res.body.result).toBe("File too large");
    });
  });

  describe("TIMEOUT (408)", () => {
    let shortApp: App;
    beforeAll(async () => {
      shortApp = await realApp({ EXECUTION_TIMEOUT_MS: "1500" }, backend);
    });

    it("a busy loop is stopped at the configured wall-clock limit, prints kept", async () => {
      const res = await execute(shortApp, "def main():\n    print('spinning', flush=True)\n    while True:\n        pass\n");
      expectStatus(res, 408);
      expect(res.body.code).toBe("TIMEOUT");
      expect(res.body.error).toContain("1500 ms");
      expect(res.body.stdout).toBe("spinning\n");
    });

    it("an infinite loop at import time times out too", async () => {
      const res = await execute(shortApp, "import time\nwhile True:\n    time.sleep(1)\ndef main():\n    return 1\n");
      expectStatus(res, 408);
      expect(res.body.code).toBe("TIMEOUT");
    });

    it("the per-request timeoutMs shortens the limit for that run", async () => {
      const res = await execute(app, "import time\ndef main():\n    time.sleep(30)\n", { timeoutMs: 1000 });
      expectStatus(res, 408);
      expect(res.body.code).toBe("TIMEOUT");
      expect(res.body.error).toContain("1000 ms");
    });

    // The next run gets the uid (and cgroup slot) the timed-out run just gave back; the
    // clean-up the timeout started must be over by then, or it kills the next run.
    it("the run after a timed-out one is not touched by its clean-up", async () => {
      for (let round = 0; round < 3; round++) {
        const timedOut = await execute(shortApp, "def main():\n    while True:\n        pass\n");
        expect(timedOut.body.code).toBe("TIMEOUT");
        const next = await execute(shortApp, "def main():\n    return 'after'\n");
        expectStatus(next, 200);
        expect(next.body.result).toBe("after");
      }
    });
  });
});
