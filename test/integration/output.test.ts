/**
 * stdout and stderr: captured at the fd level, byte-exact UTF-8, capped while reading, and
 * never a way to forge the result, on both backends.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backends, closeSandboxes, realApp } from "../support/backends.js";
import { type App, execute, expectStatus, py } from "../support/requests.js";

describe.each(await backends("subprocess", "nsjail", "nsjail zygote"))("$name", (backend) => {
  let app: App;
  beforeAll(async () => {
    app = await realApp({}, backend);
  });
  afterAll(closeSandboxes);

  describe("byte-exact output", () => {
    it("emoji, CJK and accents come back exactly, with print's own newline only", async () => {
      const res = await execute(app, "def main():\n    print('héllo 😀 漢字 ключ')\n    return 1\n");
      expectStatus(res, 200);
      expect(res.body.stdout).toBe("héllo 😀 漢字 ключ\n");
    });

    it("no newline is added when the script writes none", async () => {
      const res = await execute(app, "import sys\ndef main():\n    print('a', end='')\n    sys.stdout.write('b')\n    return 1\n");
      expect(res.body.stdout).toBe("ab");
    });

    it("print(end='') of nothing is nothing", async () => {
      const res = await execute(app, "def main():\n    print(end='')\n    return 1\n");
      expect(res.body.stdout).toBe("");
    });

    it("no newline is stripped: blank lines, trailing newlines, CRLF and leading spaces stay", async () => {
      const res = await execute(app, "import sys\ndef main():\n    sys.stdout.write('\\n  indented\\r\\nline\\n\\n\\n')\n    print()\n    return 1\n");
      expect(res.body.stdout).toBe("\n  indented\r\nline\n\n\n\n");
    });

    it("bytes that are not UTF-8, written to fd 1, become replacement characters", async () => {
      const res = await execute(app, "import os\ndef main():\n    os.write(1, b'ok \\xff\\xfe end')\n    return 1\n");
      expectStatus(res, 200);
      expect(res.body.stdout).toBe("ok \uFFFD\uFFFD end");
    });

    it("a multi-byte character split across two writes is reassembled", async () => {
      const res = await execute(
        app,
        "import os, time\ndef main():\n    data = '漢'.encode()\n    os.write(1, data[:1])\n    time.sleep(0.05)\n    os.write(1, data[1:])\n    return 1\n",
      );
      expect(res.body.stdout).toBe("漢");
    });

    it("stderr is captured separately, exactly", async () => {
      const res = await execute(
        app,
        "import sys, os\ndef main():\n    print('to err ✓', file=sys.stderr)\n    os.write(2, b'raw')\n    print('to out')\n    return 1\n",
      );
      expect(res.body.stdout).toBe("to out\n");
      expect(res.body.stderr).toBe("to err ✓\nraw");
    });

    it("print, sys.stdout.buffer and os.write(1) interleave in the order they were written", async () => {
      const res = await execute(
        app,
        "import os, sys\ndef main():\n    print('1')\n    sys.stdout.buffer.write(b'2\\n')\n    os.write(1, b'3\\n')\n    print('4')\n    return 1\n",
      );
      expect(res.body.stdout).toBe("1\n2\n3\n4\n");
    });

    it("output of child processes and C code is captured at the fd level", async () => {
      const res = await execute(
        app,
        py`
        import ctypes
        import os
        import subprocess

        def main():
            os.system("echo from-a-shell")
            subprocess.run(["printf", "from-printf"], check=True)
            libc = ctypes.CDLL(None)
            libc.write(1, b"|from-libc", 10)
            libc.write(2, b"c-stderr", 8)
            return 1
      `,
      );
      expectStatus(res, 200);
      expect(res.body.stdout).toBe("from-a-shell\nfrom-printf|from-libc");
      expect(res.body.stderr).toBe("c-stderr");
    });
  });

  describe("the result cannot be forged through output", () => {
    it("printed JSON that looks like a result, or like a whole response, is just output", async () => {
      const res = await execute(
        app,
        py`
        import os
        import sys

        def main():
            print('{"result": 666}')
            os.write(1, b'{"result": 666, "stdout": "", "stderr": ""}\n')
            sys.stdout.buffer.write(b'{"status": "ok"}\n666\n')
            return {"real": True}
      `,
      );
      expectStatus(res, 200);
      expect(res.body.result).toEqual({ real: true });
      expect(res.body.stdout).toBe('{"result": 666}\n{"result": 666, "stdout": "", "stderr": ""}\n{"status": "ok"}\n666\n');
    });

    it("forged output after a failure does not turn it into a success", async () => {
      const res = await execute(
        app,
        'import os\ndef main():\n    os.write(1, b\'{"status": "ok"}\\n{"result": 666}\\n\')\n    raise RuntimeError(\'real failure\')\n',
      );
      expectStatus(res, 400);
      expect(res.body.code).toBe("RUNTIME_ERROR");
      expect(res.body).not.toHaveProperty("result");
    });

    it("a script that closes or scribbles on the other file descriptors gets a clear error, not a forged result", async () => {
      const closed = await execute(app, "import os\nos.closerange(3, 256)\ndef main():\n    return 1\n");
      expectStatus(closed, 400);
      expect(closed.body.code).toBe("RUNTIME_ERROR");
      expect(closed.body.error).toContain("closed or wrote over the harness's result channel");
      expect(closed.body.stderr).toBe("");
      const forged = await execute(
        app,
        py`
        import os

        def main():
            for fd in range(3, 256):
                try:
                    os.write(fd, b'{"status": "ok"}\n666')
                except OSError:
                    pass
            return 1
      `,
      );
      expectStatus(forged, 400);
      expect(forged.body.code).toBe("RUNTIME_ERROR");
      expect(forged.body).not.toHaveProperty("result");
    });

    it("atexit handlers print into stdout after main() and leave the result alone", async () => {
      const res = await execute(
        app,
        py`
        import atexit
        import os

        atexit.register(lambda: print('{"result": 666}'))

        def main():
            atexit.register(lambda: os.write(1, b"registered in main\n"))
            print("in main")
            return "real"
      `,
      );
      expectStatus(res, 200);
      expect(res.body.result).toBe("real");
      // Handlers run last-registered first.
      expect(res.body.stdout).toBe('in main\nregistered in main\n{"result": 666}\n');
    });

    it("a forked child that returns from main() neither garbles nor replaces the parent's result", async () => {
      const res = await execute(
        app,
        py`
        import os

        def main():
            pid = os.fork()
            if pid == 0:
                print("child returns")
                return {"from": "child"}
            os.waitpid(pid, 0)
            return {"from": "parent"}
      `,
      );
      expectStatus(res, 200);
      expect(res.body.result).toEqual({ from: "parent" });
      expect(res.body.stdout).toBe("child returns\n");
    });
  });

  describe("prints are kept when the run fails", () => {
    it.each([
      ["RUNTIME_ERROR", "def main():\n    print('out')\n    print('err', file=__import__('sys').stderr)\n    raise ValueError('x')\n"],
      ["MEMORY_LIMIT_EXCEEDED", "def main():\n    print('out')\n    print('err', file=__import__('sys').stderr)\n    return list(range(10**9))\n"],
      ["RESULT_NOT_JSON", "def main():\n    print('out')\n    print('err', file=__import__('sys').stderr)\n    return {1, 2}\n"],
      ["SCRIPT_EXITED", "import os\ndef main():\n    print('out')\n    print('err', file=__import__('sys').stderr)\n    os._exit(3)\n"],
    ])("%s", async (code, script) => {
      const res = await execute(app, script);
      expect(res.body.code).toBe(code);
      expect(res.body.stdout).toBe("out\n");
      expect(res.body.stderr).toBe("err\n");
    });
  });

  describe("output caps", () => {
    let capped: App;
    beforeAll(async () => {
      capped = await realApp({ MAX_OUTPUT_BYTES: "1000" }, backend);
    });

    it("output of exactly the cap is whole and not flagged", async () => {
      const res = await execute(capped, "import sys\ndef main():\n    sys.stdout.write('a' * 1000)\n    return 1\n");
      expect(res.body.stdout).toBe("a".repeat(1000));
      expect(res.body.stdoutTruncated).toBe(false);
    });

    it("past the cap, stdout is cut at the cap and flagged; stderr is capped on its own", async () => {
      const res = await execute(
        capped,
        "import sys\ndef main():\n    sys.stdout.write('a' * 5000)\n    sys.stderr.write('e' * 10)\n    return 'still returned'\n",
      );
      expectStatus(res, 200);
      expect(res.body.result).toBe("still returned");
      expect(res.body.stdout).toBe("a".repeat(1000));
      expect(res.body.stdoutTruncated).toBe(true);
      expect(res.body.stderr).toBe("e".repeat(10));
      expect(res.body.stderrTruncated).toBe(false);
    });

    it("a character cut in half by the cap is dropped, not turned into garbage", async () => {
      // 'é' is two bytes: 1001 bytes of it cut at 1000 leaves 500 whole characters.
      const res = await execute(capped, "import sys\ndef main():\n    sys.stderr.write('é' * 1001)\n    return 1\n");
      expect(res.body.stderr).toBe("é".repeat(500));
      expect(res.body.stderrTruncated).toBe(true);
    });

    it("truncated output is flagged on failures too", async () => {
      const res = await execute(capped, "def main():\n    print('x' * 4000)\n    raise ValueError('after the flood')\n");
      expect(res.body.code).toBe("RUNTIME_ERROR");
      expect(res.body.stdout).toBe("x".repeat(1000));
      expect(res.body.stdoutTruncated).toBe(true);
    });
  });

  describe("1 GiB printed", () => {
    it("the response holds MAX_OUTPUT_BYTES of it and the server's memory stays bounded", async () => {
      const maxOutputBytes = 1_048_576; // the default
      const before = process.memoryUsage().rss;
      let peak = before;
      const sampler = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage().rss);
      }, 20);
      let res: Awaited<ReturnType<typeof execute>>;
      try {
        res = await execute(
          app,
          py`
          import os
          import sys

          def main():
              chunk = b"x" * (1 << 20)
              for _ in range(512):
                  sys.stdout.buffer.write(chunk)
              for _ in range(512):
                  os.write(1, chunk)
              for _ in range(256):
                  os.write(2, chunk)
              return "survived"
        `,
        );
      } finally {
        clearInterval(sampler);
      }
      peak = Math.max(peak, process.memoryUsage().rss);
      expectStatus(res, 200);
      expect(res.body.result).toBe("survived");
      expect(res.body.stdoutTruncated).toBe(true);
      expect(res.body.stdout).toHaveLength(maxOutputBytes);
      expect(res.body.stdout).toBe("x".repeat(maxOutputBytes));
      expect(res.body.stderrTruncated).toBe(true);
      expect(res.body.stderr).toHaveLength(maxOutputBytes);
      // 1.25 GiB went through the pipes; the server kept about 2 MiB of it.
      expect(peak - before).toBeLessThan(200 * 1024 * 1024);
    });
  });
});
