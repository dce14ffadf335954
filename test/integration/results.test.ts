/**
 * main()'s return value as strict JSON: conversions, rejections with a path, the size cap,
 * and how main() is found and called (async main, the __main__ guard), on both backends.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backends, closeSandboxes, realApp } from "../support/backends.js";
import { type App, execute, expectStatus, py } from "../support/requests.js";

/** A script whose main() returns 10**power, with Python's cap on int digits lifted. */
const hugeInteger = (power: number) => `import sys\nsys.set_int_max_str_digits(0)\ndef main():\n    return 10**${power}\n`;

describe.each(await backends("subprocess", "nsjail", "nsjail zygote"))("$name", (backend) => {
  let app: App;
  beforeAll(async () => {
    app = await realApp({}, backend);
  });
  afterAll(closeSandboxes);

  describe("JSON values", () => {
    it("plain values of every JSON type", async () => {
      const res = await execute(
        app,
        py`
        def main():
            return {"none": None, "t": True, "f": False, "int": -7, "float": 0.1, "str": "s", "list": [1, [2]], "dict": {"k": {}}}
      `,
      );
      expectStatus(res, 200);
      expect(res.body.result).toEqual({ none: null, t: true, f: false, int: -7, float: 0.1, str: "s", list: [1, [2]], dict: { k: {} } });
    });

    it.each([
      ["None", "None", null],
      ["a string", "'just a string'", "just a string"],
      ["an empty list", "[]", []],
      ["a bare number", "42", 42],
    ])("a top-level %s", async (_name, expression, expected) => {
      const res = await execute(app, `def main():\n    return ${expression}\n`);
      expectStatus(res, 200);
      expect(res.body.result).toEqual(expected);
    });

    it("big integers reach the client digit for digit", async () => {
      const res = await execute(app, "def main():\n    return {'big': 2**64, 'neg': -(10**30), 'huge': 3**100}\n");
      expectStatus(res, 200);
      expect(res.text).toContain(`"big":${2n ** 64n}`);
      expect(res.text).toContain(`"neg":${-(10n ** 30n)}`);
      expect(res.text).toContain(`"huge":${3n ** 100n}`);
    });

    it("an integer past a float's range (100 001 digits) reaches the client digit for digit", async () => {
      const res = await execute(app, hugeInteger(100_000));
      expectStatus(res, 200);
      expect(res.text).toContain(`"result":1${"0".repeat(100_000)},`);
    });

    it("float spellings are kept (2.0 stays 2.0)", async () => {
      const res = await execute(app, "def main():\n    return [2.0, 0.1, 1e300, -0.0]\n");
      expect(res.text).toContain('"result":[2.0,0.1,1e+300,-0.0]');
    });

    it("int, float, bool and None keys become strings, as Python's json does", async () => {
      const res = await execute(app, "def main():\n    return {7: 'int', 2.5: 'float', True: 'bool', None: 'none', 'k': 'str'}\n");
      expectStatus(res, 200);
      expect(res.body.result).toEqual({ "7": "int", "2.5": "float", true: "bool", null: "none", k: "str" });
    });

    it("tuples become lists, nested ones too", async () => {
      const res = await execute(app, "def main():\n    return (1, (2, (3,)), {'t': ()})\n");
      expect(res.body.result).toEqual([1, [2, [3]], { t: [] }]);
    });

    it("unicode strings in the result survive (emoji, CJK, escapes)", async () => {
      const res = await execute(app, "def main():\n    return {'emoji': '😀🎉', 'cjk': '漢字かな', 'ctl': 'a\\tb\\n\"q\"', '键': 'ключ'}\n");
      expectStatus(res, 200);
      expect(res.body.result).toEqual({ emoji: "😀🎉", cjk: "漢字かな", ctl: 'a\tb\n"q"', 键: "ключ" });
    });

    it("a value that prints like JSON is still just a string", async () => {
      const res = await execute(app, "def main():\n    return '{\"result\": 666}'\n");
      expect(res.body.result).toBe('{"result": 666}');
    });
  });

  describe("numpy scalars are converted to the Python value", () => {
    it("np.int64, np.float32, np.bool_ and friends", async () => {
      const res = await execute(
        app,
        py`
        import numpy as np

        def main():
            return {
                "int64": np.int64(7),
                "int8": np.int8(-3),
                "uint64": np.uint64(2**64 - 1),
                "float32": np.float32(0.5),
                "float64": np.float64(1.25),
                "bool": np.bool_(True),
                "false": np.bool_(False),
                "str": np.str_("text"),
                "sum": np.array([1, 2, 3]).sum(),
                "keys": {np.int64(3): "numpy int key"},
            }
      `,
      );
      expectStatus(res, 200);
      expect(res.body.result).toEqual({
        int64: 7,
        int8: -3,
        uint64: Number(2n ** 64n - 1n),
        float32: 0.5,
        float64: 1.25,
        bool: true,
        false: false,
        str: "text",
        sum: 6,
        keys: { "3": "numpy int key" },
      });
      expect(res.text).toContain(`"uint64":${2n ** 64n - 1n}`);
    });

    it("a numpy NaN is rejected like a Python one", async () => {
      const res = await execute(app, "import numpy as np\ndef main():\n    return {'mean': np.mean(np.array([]))}\n");
      expectStatus(res, 400);
      expect(res.body.code).toBe("RESULT_NOT_JSON");
      expect(res.body.error).toContain('result["mean"] is NaN');
    });
  });

  describe("RESULT_NOT_JSON names the path and the type", () => {
    it.each([
      ["NaN", "{'a': [1, float('nan')]}", 'result["a"][1] is NaN'],
      ["Infinity", "{'x': {'y': float('inf')}}", 'result["x"]["y"] is Infinity'],
      ["-Infinity", "[float('-inf')]", "result[0] is -Infinity"],
      ["a top-level NaN", "float('nan')", "result is NaN"],
      ["a NaN key", "{float('nan'): 1}", "a key of result is NaN"],
      ["bytes", "{'data': b'raw'}", 'result["data"] is bytes'],
      ["a datetime", "{'when': __import__('datetime').datetime(2024, 1, 2)}", 'result["when"] is datetime.datetime'],
      ["a custom object", "[object()]", "result[0] is object"],
      ["a set inside a list", "[1, {2, 3}]", "result[1] is set"],
      ["a tuple key", "{(1, 2): 'pair'}", "a key of result is tuple"],
    ])("%s", async (_name, expression, path) => {
      const res = await execute(app, `def main():\n    return ${expression}\n`);
      expectStatus(res, 400);
      expect(res.body.code).toBe("RESULT_NOT_JSON");
      expect(res.body.error).toContain(path);
    });

    it("a DataFrame in a dict: path, type and the fix", async () => {
      const res = await execute(
        app,
        py`
        import pandas as pd

        def main():
            print("built the frame")
            return {"rows": 2, "df": pd.DataFrame({"x": [1, 2]})}
      `,
      );
      expectStatus(res, 400);
      expect(res.body.code).toBe("RESULT_NOT_JSON");
      expect(res.body.error).toContain('result["df"] is pandas.DataFrame');
      expect(res.body.error).toContain("df.to_dict()");
      expect(res.body.stdout).toBe("built the frame\n");
    });

    it("a Series and an ndarray deeper down", async () => {
      const series = await execute(app, "import pandas as pd\ndef main():\n    return {'s': [pd.Series([1])]}\n");
      expect(series.body.error).toContain('result["s"][0] is pandas.Series');
      const array = await execute(app, "import numpy as np\ndef main():\n    return {'a': {'b': np.zeros(2)}}\n");
      expect(array.body.error).toContain('result["a"]["b"] is numpy.ndarray');
      expect(array.body.error).toContain("arr.tolist()");
    });

    it("a list that contains itself", async () => {
      const res = await execute(app, "def main():\n    x = [1]\n    x.append(x)\n    return x\n");
      expectStatus(res, 400);
      expect(res.body.code).toBe("RESULT_NOT_JSON");
      expect(res.body.error).toMatch(/circular/);
    });
  });

  describe("RESULT_TOO_LARGE: the result cap", () => {
    let capped: App;
    beforeAll(async () => {
      capped = await realApp({ MAX_RESULT_BYTES: "1000" }, backend);
    });

    it("a result of exactly the cap passes; one byte more is refused with both sizes named", async () => {
      // A JSON string of n characters takes n + 2 bytes.
      const fits = await execute(capped, "def main():\n    return 'x' * 998\n");
      expectStatus(fits, 200);
      expect(fits.body.result).toBe("x".repeat(998));

      const over = await execute(capped, "def main():\n    print('made it')\n    return 'x' * 999\n");
      expectStatus(over, 400);
      expect(over.body.code).toBe("RESULT_TOO_LARGE");
      expect(over.body.error).toContain("1001 bytes");
      expect(over.body.error).toContain("1000 bytes");
      expect(over.body.stdout).toBe("made it\n");
    });

    it("an integer of more digits than the cap is RESULT_TOO_LARGE, one of as many passes", async () => {
      const fits = await execute(capped, hugeInteger(999));
      expectStatus(fits, 200);
      expect(fits.text).toContain(`"result":1${"0".repeat(999)},`);
      const over = await execute(capped, hugeInteger(1000));
      expectStatus(over, 400);
      expect(over.body.code).toBe("RESULT_TOO_LARGE");
      expect(over.body.error).toContain("1001 bytes");
    });

    it("a report the script writes to the result channel itself is held to the same cap", async () => {
      const res = await execute(
        capped,
        py`
        import os

        def main():
            for fd in range(3, 64):
                try:
                    os.write(fd, b'{"status":"ok","resultBytes":100002}\n"' + b"x" * 100000 + b'"')
                    os._exit(0)
                except OSError:
                    pass
      `,
      );
      expectStatus(res, 400);
      expect(res.body.code).toBe("RESULT_TOO_LARGE");
    });

    it("a lone surrogate or nesting deeper than 1000 levels is RESULT_NOT_JSON, with the path", async () => {
      const surrogate = await execute(app, 'def main():\n    return {"name": "\\ud800"}\n');
      expectStatus(surrogate, 400);
      expect(surrogate.body.code).toBe("RESULT_NOT_JSON");
      expect(surrogate.body.error).toContain('result["name"] contains a lone surrogate');
      const deep = await execute(
        app,
        py`
        import sys

        def main():
            sys.setrecursionlimit(10000)
            value = []
            for _ in range(1500):
                value = [value]
            return value
      `,
      );
      expectStatus(deep, 400);
      expect(deep.body.code).toBe("RESULT_NOT_JSON");
      expect(deep.body.error).toMatch(/nested deeper than 1000 levels/);
    });

    it("an exception raised by the result's own code while it is serialized is the script's RUNTIME_ERROR", async () => {
      const res = await execute(
        app,
        py`
        class Name(str):
            def __str__(self):
                raise ValueError("no name today")

        def main():
            return {"name": Name("x")}
      `,
      );
      expectStatus(res, 400);
      expect(res.body.code).toBe("RUNTIME_ERROR");
      expect(res.body.error).toBe("ValueError: no name today");
      expect(res.body.traceback).toMatch(/File "script.py", line 3, in __str__/);
    });

    it("a result far over the cap", async () => {
      const res = await execute(capped, "def main():\n    return list(range(100000))\n");
      expectStatus(res, 400);
      expect(res.body.code).toBe("RESULT_TOO_LARGE");
    });

    it("with the default cap, a multi-megabyte result arrives whole", async () => {
      const res = await execute(app, "def main():\n    return ['y' * 1000] * 3000\n");
      expectStatus(res, 200);
      expect(res.body.result).toHaveLength(3000);
      expect((res.body.result as string[]).every((item) => item === "y".repeat(1000))).toBe(true);
    });
  });

  describe("how main() is found and called", () => {
    it("the script runs as a module whose __name__ is not __main__", async () => {
      const res = await execute(app, "def main():\n    return __name__\n");
      expectStatus(res, 200);
      expect(res.body.result).not.toBe("__main__");
      expect(typeof res.body.result).toBe("string");
    });

    it("an if __name__ == '__main__' guard does not run main() a second time", async () => {
      const res = await execute(
        app,
        py`
        calls = []

        def main():
            calls.append(1)
            print("main ran")
            return {"calls": len(calls)}

        if __name__ == "__main__":
            main()
      `,
      );
      expectStatus(res, 200);
      expect(res.body.result).toEqual({ calls: 1 });
      expect(res.body.stdout).toBe("main ran\n");
    });

    it("top-level code runs first, then main() once", async () => {
      const res = await execute(app, "print('top')\ndef main():\n    print('main')\n    return 1\nprint('bottom')\n");
      expect(res.body.stdout).toBe("top\nbottom\nmain\n");
    });

    it("async def main() is awaited", async () => {
      const res = await execute(
        app,
        py`
        import asyncio

        async def work(n):
            await asyncio.sleep(0.01)
            return n * 2

        async def main():
            print("async main")
            return {"values": await asyncio.gather(work(1), work(2))}
      `,
      );
      expectStatus(res, 200);
      expect(res.body.result).toEqual({ values: [2, 4] });
      expect(res.body.stdout).toBe("async main\n");
    });

    it("an exception in async main is a runtime error with the script's frames", async () => {
      const res = await execute(app, "async def main():\n    raise ValueError('async boom')\n");
      expectStatus(res, 400);
      expect(res.body.code).toBe("RUNTIME_ERROR");
      expect(res.body.error).toBe("ValueError: async boom");
      expect(res.body.traceback).toContain('File "script.py", line 2, in main');
    });

    it("main() may use functions and classes defined in the script (and inspect its own source)", async () => {
      const res = await execute(
        app,
        py`
        import inspect
        from dataclasses import dataclass, asdict

        @dataclass
        class Point:
            x: int
            y: int

        def main():
            return {"point": asdict(Point(1, 2)), "source_lines": len(inspect.getsource(Point).splitlines())}
      `,
      );
      expectStatus(res, 200);
      expect(res.body.result).toEqual({ point: { x: 1, y: 2 }, source_lines: 4 });
    });
  });
});
