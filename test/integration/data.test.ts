/**
 * Data in and out, through the real app, harness and sandboxes on every backend: `args` as
 * main(**args), input files in the work dir, the files a run created or changed and its
 * matplotlib figures in the response, and the limits on all of them.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MIB } from "../../domain/units.js";
import { backends, closeSandboxes, realApp } from "../support/backends.js";
import { decodePng } from "../support/png.js";
import { type App, type ExecuteResponseBody, execute, expectStatus, postRaw, py } from "../support/requests.js";

const DEFAULT_MAX_OUTPUT_FILES = 100;
const DEFAULT_MAX_OUTPUT_FILES_BYTES = 8 * MIB;

/** The files of a response that has them (a test that expects none checks `files` itself). */
const filesOf = (body: ExecuteResponseBody) => body.files ?? expect.unreachable("the response lists no files");
const figuresOf = (body: ExecuteResponseBody) => body.figures ?? expect.unreachable("the response has no figures");
const pathsOf = (body: ExecuteResponseBody): string[] => filesOf(body).map((file) => file.path);

describe.each(await backends("subprocess", "nsjail", "nsjail zygote", "subprocess pooled", "nsjail pooled"))("$name", (backend) => {
  let app: App;
  /** Small caps, to see them hold. */
  let cappedApp: App;
  beforeAll(async () => {
    app = await realApp({}, backend);
    cappedApp = await realApp({ MAX_OUTPUT_FILES: "3", MAX_OUTPUT_FILES_BYTES: "1000", MAX_FIGURES: "2" }, backend);
  });
  afterAll(closeSandboxes);

  describe("a CSV in, a pandas aggregate out", () => {
    it("reads the input file, returns the aggregate and gives back the CSV it wrote; the unchanged input is not listed", async () => {
      const res = await execute(
        app,
        py`
          import os
          import pandas as pd

          def main():
              os.makedirs("out")
              sales = pd.read_csv("data/sales.csv")
              totals = sales.groupby("region")["amount"].sum()
              totals.to_csv("out/totals.csv")
              return {"rows": len(sales), "totals": {k: int(v) for k, v in totals.items()}}
        `,
        { files: [{ path: "data/sales.csv", content: "region,amount\neast,10\nwest,5\neast,7\nnorth,1\n" }] },
      );
      expectStatus(res, 200);
      expect(res.body.result).toEqual({ rows: 4, totals: { east: 17, north: 1, west: 5 } });
      expect(res.body.files).toEqual([
        { path: "out/totals.csv", size: 37, mediaType: "text/csv", encoding: "utf-8", content: "region,amount\neast,17\nnorth,1\nwest,5\n" },
      ]);
      expect(res.body.filesTruncated).toBe(false);
      expect(res.body).not.toHaveProperty("figures");
    });

    it("an input the script changed is listed, one it left alone or deleted is not", async () => {
      const res = await execute(
        app,
        py`
          import os

          def main():
              with open("log.txt", "a") as f:
                  f.write("second\n")
              with open("same.txt", "w") as f:
                  f.write("same")  # rewritten with the very same bytes
              os.remove("gone.txt")
              return sorted(os.listdir("."))
        `,
        {
          files: [
            { path: "log.txt", content: "first\n" },
            { path: "same.txt", content: "same" },
            { path: "gone.txt", content: "x" },
            { path: "untouched.txt", content: "y" },
          ],
        },
      );
      expectStatus(res, 200);
      expect(res.body.result).toEqual(["log.txt", "same.txt", "untouched.txt"]);
      expect(res.body.files).toEqual([{ path: "log.txt", size: 13, mediaType: "text/plain", encoding: "utf-8", content: "first\nsecond\n" }]);
    });

    it("a run that only reads its inputs answers exactly as before: no files field", async () => {
      const res = await execute(app, 'def main():\n    return open("in.txt").read()\n', { files: [{ path: "in.txt", content: "héllo" }] });
      expectStatus(res, 200);
      expect(res.body.result).toBe("héllo");
      expect(Object.keys(res.body)).toEqual(["result", "stdout", "stderr", "stdoutTruncated", "stderrTruncated", "durationMs"]);
    });

    it("a failed run still gives back the files it wrote before failing", async () => {
      const res = await execute(
        app,
        py`
        def main():
            with open("partial.csv", "w") as f:
                f.write("a,b\n1,2\n")
            raise ValueError("halfway")
      `,
      );
      expectStatus(res, 400);
      expect(res.body.code).toBe("RUNTIME_ERROR");
      expect(res.body.files).toEqual([{ path: "partial.csv", size: 8, mediaType: "text/csv", encoding: "utf-8", content: "a,b\n1,2\n" }]);
    });
  });

  describe("args", () => {
    const signature = py`
      def main(name, greeting="Hello", *, punctuation="!", times=1):
          print("in main")
          return (f"{greeting}, {name}{punctuation} " * times).strip()
    `;

    it.each<[string, Record<string, unknown>, string]>([
      ["only the required one: defaults for the rest", { name: "Ada" }, "Hello, Ada!"],
      ["a positional-or-keyword one by name", { name: "Ada", greeting: "Hi" }, "Hi, Ada!"],
      ["keyword-only ones", { name: "Ada", punctuation: "?", times: 2 }, "Hello, Ada? Hello, Ada?"],
    ])("%s", async (_name, args, expected) => {
      const res = await execute(app, signature, { args });
      expectStatus(res, 200);
      expect(res.body.result).toBe(expected);
      expect(res.body.stdout).toBe("in main\n");
    });

    it.each<[string, Record<string, unknown>, string]>([
      ["an unknown name", { name: "Ada", nmae: "x" }, 'main() has no parameter "nmae" (its parameters: name, greeting, punctuation, times)'],
      ["a missing required parameter", { greeting: "Hi" }, 'main() requires the argument "name", which args does not give'],
    ])("%s: 400 INVALID_ARGS naming it, before any of the script ran", async (_name, args, message) => {
      const res = await execute(app, `print("top level")\n${signature}`, { args });
      expectStatus(res, 400);
      expect(res.body.code).toBe("INVALID_ARGS");
      expect(res.body.error).toBe(message);
      expect(res.body.stdout).toBe("");
    });

    it("a positional-only parameter cannot be given by name", async () => {
      const res = await execute(app, "def main(a, /, b=2):\n    return a\n", { args: { a: 1 } });
      expectStatus(res, 400);
      expect(res.body.code).toBe("INVALID_ARGS");
      expect(res.body.error).toContain('"a" is positional-only');
    });

    it("a main() that is not a plain def is checked once the script has defined it", async () => {
      const res = await execute(
        app,
        py`
          import functools
          print("defining main")

          def greet(greeting, name):
              return f"{greeting}, {name}"

          main = functools.partial(greet, "Hi")
        `,
        { args: { nmae: "Ada" } },
      );
      expectStatus(res, 400);
      expect(res.body.code).toBe("INVALID_ARGS");
      expect(res.body.error).toContain('no parameter "nmae"');
      expect(res.body.stdout).toBe("defining main\n");
    });

    it("**kwargs takes any name; numbers arrive as they were written (1.0 a float, 2^64 exact)", async () => {
      const res = await postRaw(
        app,
        String.raw`{"script": "def main(**kwargs):\n    return {k: [type(v).__name__, v] for k, v in kwargs.items()}", "args": {"f": 1.0, "i": 1, "big": 18446744073709551617, "s": "x", "l": [1.5, null], "o": {"k": true}}}`,
      );
      expectStatus(res, 200);
      expect(res.text).toContain(
        '"result":{"f":["float",1.0],"i":["int",1],"big":["int",18446744073709551617],"s":["str","x"],"l":["list",[1.5,null]],"o":["dict",{"k":true}]}',
      );
    });

    it("async main() gets its args too; an empty args object calls main() with none", async () => {
      const res = await execute(app, "async def main(x=1):\n    return x * 2\n", { args: { x: 21 } });
      expect(res.body.result).toBe(42);
      const empty = await execute(app, "def main():\n    return 'none'\n", { args: {} });
      expect(empty.body.result).toBe("none");
    });

    it("without args, a main() that requires arguments is MAIN_NOT_FOUND, as it always was", async () => {
      const res = await execute(app, "def main(name):\n    return name\n");
      expectStatus(res, 400);
      expect(res.body.code).toBe("MAIN_NOT_FOUND");
    });
  });

  describe("binary files", () => {
    it("go in and come out byte for byte (base64 both ways); UTF-8 text comes back as text", async () => {
      const input = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7 + (i >> 8)) % 256));
      const res = await execute(
        app,
        py`
          def main():
              data = open("in/blob.bin", "rb").read()
              open("reversed.bin", "wb").write(data[::-1])
              open("copy.bin", "wb").write(data)
              open("text.txt", "wb").write("ünïcode ✓\n".encode())
              open("empty.dat", "wb").close()
              return len(data)
        `,
        { files: [{ path: "in/blob.bin", content: input.toString("base64"), encoding: "base64" }] },
      );
      expectStatus(res, 200);
      expect(res.body.result).toBe(4096);
      expect(pathsOf(res.body)).toEqual(["copy.bin", "empty.dat", "reversed.bin", "text.txt"]);
      const [copy, empty, reversed, text] = filesOf(res.body);
      expect(copy).toMatchObject({ size: 4096, mediaType: "application/octet-stream", encoding: "base64" });
      expect(Buffer.from(copy!.content!, "base64").equals(input)).toBe(true);
      expect(Buffer.from(reversed!.content!, "base64").equals(Buffer.from(input).reverse())).toBe(true);
      expect(empty).toEqual({ path: "empty.dat", size: 0, mediaType: "text/plain", encoding: "utf-8", content: "" });
      expect(text).toEqual({ path: "text.txt", size: 14, mediaType: "text/plain", encoding: "utf-8", content: "ünïcode ✓\n" });
    });
  });

  describe("figures", () => {
    it("a shown figure and one left open come back as PNGs of the stated size, shown first", async () => {
      const res = await execute(
        app,
        py`
        import matplotlib.pyplot as plt

        def main():
            plt.figure(figsize=(4, 3), dpi=100)
            plt.plot([1, 4, 9, 16])
            plt.show()
            plt.figure(figsize=(2, 5), dpi=50)
            plt.bar(["a", "b"], [3, 1])
            return {"open after show": len(plt.get_fignums())}
      `,
      );
      expectStatus(res, 200);
      expect(res.body.result).toEqual({ "open after show": 1 });
      expect(res.body.stderr).toBe("");
      expect(res.body.figuresTruncated).toBe(false);
      const figures = figuresOf(res.body);
      expect(figures.map(({ width, height }) => [width, height])).toEqual([
        [400, 300],
        [100, 250],
      ]);
      for (const figure of figures) {
        expect(figure).toMatchObject({ mediaType: "image/png", encoding: "base64" });
        const png = decodePng(Buffer.from(figure.content, "base64"));
        expect([png.width, png.height]).toEqual([figure.width, figure.height]);
      }
      expect(res.body).not.toHaveProperty("files");
    });

    it("a figure that cannot be drawn: plt.show() raises in the script; left open, it is left out with a note on stderr", async () => {
      const broken = py`
        import matplotlib.pyplot as plt

        def main():
            plt.figure(figsize=(1, 1), dpi=20)
            plt.plot([0, 1])
            plt.figure(figsize=(1, 1), dpi=20)
            plt.title("$\frac{$")  # mathtext that fails only when drawn
            SHOW
            return "returned"
      `;
      const shown = await execute(app, broken.replace("SHOW", "plt.show()"));
      expectStatus(shown, 400);
      expect(shown.body.code).toBe("RUNTIME_ERROR");
      expect(shown.body.traceback).toContain('File "script.py", line 8, in main\n    plt.show()\n  File "/');
      expect(shown.body.traceback).not.toContain("<string>");

      const open = await execute(app, broken.replace("SHOW", "pass"));
      expectStatus(open, 200);
      expect(open.body.result).toBe("returned");
      expect(figuresOf(open.body).map(({ width, height }) => [width, height])).toEqual([[20, 20]]);
      expect(open.body.stderr).toMatch(/^Figure 2 could not be rendered: ValueError/);
    });

    it("past MAX_FIGURES the rest are left out and figuresTruncated says so", async () => {
      const res = await execute(
        cappedApp,
        py`
        import matplotlib.pyplot as plt

        def main():
            for n in range(4):
                plt.figure(figsize=(1, 1), dpi=20)
                plt.plot([0, n])
            return len(plt.get_fignums())
      `,
      );
      expectStatus(res, 200);
      expect(res.body.result).toBe(4);
      expect(res.body.figures).toHaveLength(2);
      expect(res.body.figuresTruncated).toBe(true);
    });
  });

  describe("limits on the files given back", () => {
    it("past MAX_OUTPUT_FILES_BYTES the rest are listed with their size only; past MAX_OUTPUT_FILES they are not listed", async () => {
      const res = await execute(
        cappedApp,
        py`
        def main():
            for name, size in [("a.txt", 400), ("b.txt", 700), ("c.txt", 10), ("d.txt", 1)]:
                with open(name, "w") as f:
                    f.write("x" * size)
      `,
      );
      expectStatus(res, 200);
      expect(res.body.files).toEqual([
        { path: "a.txt", size: 400, mediaType: "text/plain", encoding: "utf-8", content: "x".repeat(400) },
        { path: "b.txt", size: 700, mediaType: "text/plain" },
        { path: "c.txt", size: 10, mediaType: "text/plain" },
      ]);
      expect(res.body.filesTruncated).toBe(true);
    });

    it("directories nested deeper than 64 levels are not looked into, and the list says it is truncated", async () => {
      const res = await execute(
        app,
        py`
        import os

        def main():
            path = "."
            for level in range(1, 71):
                path = os.path.join(path, "d")
                os.mkdir(path)
                with open(os.path.join(path, f"{level:02}.txt"), "w") as f:
                    f.write(str(level))
      `,
      );
      expectStatus(res, 200);
      // "d/01.txt" sorts before "d/d/02.txt": the files come level by level, down to the 64th.
      expect(pathsOf(res.body)).toEqual(Array.from({ length: 64 }, (_, i) => `${"d/".repeat(i + 1)}${String(i + 1).padStart(2, "0")}.txt`));
      expect(res.body.filesTruncated).toBe(true);
    });

    it("thousands of small files: the list stops at MAX_OUTPUT_FILES, sorted by path", async () => {
      const res = await execute(
        app,
        py`
        import os

        def main():
            os.mkdir("many")
            written = 0
            try:
                for i in range(5000):
                    with open(f"many/{4999 - i:05}.txt", "w") as f:
                        f.write(str(i))
                    written += 1
            except OSError as e:
                return {"written": written, "stopped by": e.strerror}
            return {"written": written}
      `,
      );
      expectStatus(res, 200);
      // The jail's work dir has 4096 inodes; the subprocess backend writes all 5000.
      const { written } = res.body.result as { written: number };
      if (backend.kind === "subprocess") expect(written).toBe(5000);
      expect(written).toBeGreaterThan(DEFAULT_MAX_OUTPUT_FILES);
      // Written from many/04999.txt down: the smallest paths are the last ones written.
      const smallest = 5000 - written;
      const expected = Array.from({ length: DEFAULT_MAX_OUTPUT_FILES }, (_, i) => `many/${String(smallest + i).padStart(5, "0")}.txt`);
      expect(pathsOf(res.body)).toEqual(expected);
      expect(filesOf(res.body)[0]).toMatchObject({ content: String(written - 1) });
      expect(res.body.filesTruncated).toBe(true);
    });
  });

  describe("what is never followed or read", () => {
    it("symlinks (to a file or a directory outside the work dir, or inside it) and fifos are not listed, and the run ends", async () => {
      const res = await execute(
        app,
        py`
        import os

        def main():
            with open("real.txt", "w") as f:
                f.write("mine")
            os.symlink("/etc/passwd", "passwd.txt")
            os.symlink("/usr", "usr-dir")
            os.symlink("real.txt", "inside-link.txt")
            os.mkdir("sub")
            os.symlink("..", "sub/up")
            os.mkfifo("waiting.fifo")
            return sorted(os.listdir("."))
      `,
      );
      expectStatus(res, 200);
      expect(res.body.result).toEqual(["inside-link.txt", "passwd.txt", "real.txt", "sub", "usr-dir", "waiting.fifo"]);
      expect(res.body.files).toEqual([{ path: "real.txt", size: 4, mediaType: "text/plain", encoding: "utf-8", content: "mine" }]);
      expect(res.text).not.toContain("root:");
    });
  });

  describe("unsafe input paths", () => {
    it.each<[string, string]>([
      ["/etc/cron.d/evil", "is absolute"],
      ["../outside.txt", 'contains ".."'],
      ["data/../../outside.txt", 'contains ".."'],
      ["a//b", "empty part"],
      ["dir/", "empty part"],
      ["./x", 'contains "."'],
      ["back\\slash", "backslash"],
      ["new\nline", "control character"],
      ["", "is empty"],
    ])("%j is a 400 INVALID_REQUEST naming it; nothing runs", async (path, reason) => {
      const res = await execute(app, 'print("ran")\ndef main():\n    return 1\n', {
        files: [
          { path: "ok.txt", content: "" },
          { path, content: "x" },
        ],
      });
      expectStatus(res, 400);
      expect(res.body.code).toBe("INVALID_REQUEST");
      expect(res.body.error).toContain(`files[1].path `);
      expect(res.body.error).toContain(reason);
      if (path !== "") expect(res.body.error).toContain(JSON.stringify(path));
      expect(res.body.stdout).toBe("");
    });

    it("a repeated path is a 400 naming it", async () => {
      const res = await execute(app, "def main():\n    return 1\n", {
        files: [
          { path: "a.txt", content: "1" },
          { path: "a.txt", content: "2" },
        ],
      });
      expectStatus(res, 400);
      expect(res.body.error).toContain('files[1].path "a.txt" repeats files[0].path');
    });
  });
});

describe.each(await backends("subprocess", "nsjail", "nsjail zygote"))("$name: a script that writes 1 GiB of files", (backend) => {
  let app: App;
  beforeAll(async () => {
    app = await realApp({ EXECUTION_TIMEOUT_MS: "60000" }, backend);
  });
  afterAll(closeSandboxes);

  it("the limits hold, the server's memory stays bounded, and the answer is never a 5xx", async () => {
    const rssBefore = process.memoryUsage().rss;
    const res = await execute(
      app,
      py`
      import os

      def main():
          os.mkdir("big")
          block = os.urandom(1 << 20)
          for i in range(16):
              with open(f"big/{i:02}.bin", "wb") as f:
                  for _ in range(64):
                      f.write(block)
          return sum(os.path.getsize(f"big/{name}") for name in os.listdir("big"))
    `,
    );
    const rssGrowth = process.memoryUsage().rss - rssBefore;
    expect(res.status).toBeLessThan(500);
    const files = filesOf(res.body);
    if (backend.kind === "nsjail") {
      // The jail's work dir holds 64 MiB: the write fails, and what was written is listed.
      expectStatus(res, 400);
      expect(res.body.code).toBe("RESOURCE_LIMIT_EXCEEDED");
      expect(res.body.error).toContain("Disk space limit of the work dir exceeded");
    } else {
      // The subprocess backend has no cap on its work dir: 16 files of 64 MiB each.
      expectStatus(res, 200);
      expect(res.body.result).toBe(1024 * MIB);
      expect(files).toHaveLength(16);
    }
    expect(files.length).toBeGreaterThan(0);
    // Every file is bigger than MAX_OUTPUT_FILES_BYTES: listed with its size, never read.
    for (const file of files) expect(file).not.toHaveProperty("content");
    expect(res.body.filesTruncated).toBe(true);
    expect(res.text.length).toBeLessThan(DEFAULT_MAX_OUTPUT_FILES_BYTES);
    expect(rssGrowth).toBeLessThan(256 * MIB);
  });
});
