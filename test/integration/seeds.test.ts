/**
 * Every example of the documents the service was specified from (a deployment guide, three
 * READMEs of similar services and a list of nsjail test cases) run through the real app, the
 * real harness and a real Python, on every backend: the subprocess sandbox and nsjail, each with
 * and without the pool of pre-started sandboxes, and nsjail's fork server. Every example must give
 * the same answer on all of them. Where an example gives a curl body, that body is posted byte for byte, as curl -d would.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backends, closeSandboxes, poolOf, realApp } from "../support/backends.js";
import { slowed } from "../support/real-app.js";
import { type App, execute, expectStatus, postRaw, py } from "../support/requests.js";

describe.each(await backends("subprocess", "nsjail", "nsjail zygote", "subprocess pooled", "nsjail pooled"))("$name", (backend) => {
  let app: App;
  beforeAll(async () => {
    app = await realApp({}, backend);
  });
  afterAll(closeSandboxes);

  // Only where there is a pool to take from.
  if (backend.pooled) {
    it("a request is handed a sandbox pre-started before it", async () => {
      const pool = poolOf(app);
      await pool.whenFull();
      expect(pool.readyCount).toBe(1);
      const res = await execute(app, "import sys\ndef main():\n    return sorted(m for m in ('numpy', 'pandas') if m in sys.modules)\n");
      expectStatus(res, 200);
      // The pre-started sandbox had imported numpy and pandas before the script arrived, and
      // its replacement cannot be ready yet: it only starts once this run is over.
      expect(res.body.result).toEqual(["numpy", "pandas"]);
      expect(pool.readyCount).toBe(0);
    });

    it("a request with a memory limit of its own gets a cold sandbox, not a pre-started one", async () => {
      const pool = poolOf(app);
      await pool.whenFull();
      const res = await execute(app, "import sys\ndef main():\n    return 'pandas' in sys.modules\n", { memoryMb: 256 });
      expectStatus(res, 200);
      expect(res.body.result).toBe(false);
      expect(pool.readyCount).toBe(1);
    });
  }

  describe("the deployment guide", () => {
    it("runs the quick-start hello world", async () => {
      const res = await postRaw(app, String.raw`{"script": "def main():\n    return {\"message\": \"Hello, World!\"}"}`);
      expectStatus(res, 200);
      expect(res.body.result).toEqual({ message: "Hello, World!" });
      expect(res.body.stdout).toBe("");
    });
  });

  describe("an nsjail README", () => {
    it("valid script: pandas and numpy, prints kept in order, total 23.0 and count 5", async () => {
      const res = await postRaw(
        app,
        String.raw`{
                 "script": "import numpy as np\nimport pandas as pd\n\ndef main():\n    print(\"Calculating...\")\n    s = pd.Series([1, 3, 5, np.nan, 6, 8])\n    print(f\"Series length: {len(s)}\")\n    # Convert numpy types for JSON\n    return {\"total\": float(s.sum()), \"count\": int(s.count()) }"
               }`,
      );
      expectStatus(res, 200);
      expect(res.body.result).toEqual({ total: 1 + 3 + 5 + 6 + 8, count: 5 });
      expect(res.text).toContain('"result":{"total":23.0,"count":5}');
      expect(res.body.stdout).toBe("Calculating...\nSeries length: 6\n");
      expect(res.body.stderr).toBe("");
    });

    it("local test run (curl variant): DataFrame shape and columns", async () => {
      const res = await postRaw(
        app,
        String.raw`{
                     "script": "import pandas as pd\n\ndef main():\n    print(\"Local test run!\")\n    data = {\"col1\": [1, 2], \"col2\": [3, 4]}\n    df = pd.DataFrame(data=data)\n    return {\"shape\": [df.shape[0], df.shape[1]], \"columns\": df.columns.tolist() }"
                   }`,
      );
      expectStatus(res, 200);
      expect(res.body.result).toEqual({ shape: [2, 2], columns: ["col1", "col2"] });
      expect(res.body.stdout).toBe("Local test run!\n");
    });

    it("local test run (PowerShell variant): the df.shape tuple becomes a list", async () => {
      const res = await postRaw(
        app,
        String.raw`{
                        "script": "import pandas as pd\n\ndef main():\n    print(\"Local test run!\")\n    data = {\"col1\": [1, 2], \"col2\": [3, 4]}\n    df = pd.DataFrame(data=data)\n    return {\"shape\": df.shape, \"columns\": df.columns.tolist() }"
                      }`,
      );
      expectStatus(res, 200);
      expect(res.body.result).toEqual({ shape: [2, 2], columns: ["col1", "col2"] });
      expect(res.body.stdout).toBe("Local test run!\n");
    });

    it("numpy example: sum and mean as floats", async () => {
      const res = await postRaw(
        app,
        String.raw`{
                 "script": "import numpy as np\n\ndef main():\n    print(\"Hello from Cloud Run!\")\n    arr = np.array([1, 2, 3])\n    return {\"sum\": float(arr.sum()), \"mean\": float(arr.mean()) }"
               }`,
      );
      expectStatus(res, 200);
      expect(res.text).toContain('"result":{"sum":6.0,"mean":2.0}');
      expect(res.body.stdout).toBe("Hello from Cloud Run!\n");
    });

    it("script without main: 400 MAIN_NOT_FOUND, and the print before it is kept", async () => {
      const res = await postRaw(app, String.raw`{"script": "print(\"This script has no main\")\nx = 1 + 1"}`);
      expectStatus(res, 400);
      expect(res.body.code).toBe("MAIN_NOT_FOUND");
      expect(res.body.error).toMatch(/main\(\)/);
      expect(res.body.stdout).toBe("This script has no main\n");
      expect(res.body).not.toHaveProperty("result");
    });

    it("script with a syntax error: 400 SYNTAX_ERROR naming line and column, nothing ran", async () => {
      const res = await postRaw(app, String.raw`{"script": "def main():\n  print(\"Hello\")\n  x = 1 + \n  return {\"ok\": True}"}`);
      expectStatus(res, 400);
      expect(res.body.code).toBe("SYNTAX_ERROR");
      expect(res.body.error).toMatch(/SyntaxError/);
      expect(res.body.error).toMatch(/line 3\b/);
      expect(res.body.error).toMatch(/column \d+/);
      expect(res.body.stdout).toBe("");
    });

    it("ndarray returned: 400 RESULT_NOT_JSON with type and hint, and the print is kept", async () => {
      const res = await postRaw(
        app,
        String.raw`{"script": "import numpy as np\ndef main():\n  print(\"Returning ndarray\")\n  # ndarray is not directly JSON serializable\n  return np.array([1,2,3])"}`,
      );
      expectStatus(res, 400);
      expect(res.body.code).toBe("RESULT_NOT_JSON");
      expect(res.body.error).toContain("result is numpy.ndarray");
      expect(res.body.error).toContain("tolist()");
      expect(res.body.stdout).toBe("Returning ndarray\n");
    });
  });

  describe("an nsjail README: the script that times out", () => {
    let shortApp: App;
    beforeAll(async () => {
      shortApp = await realApp({ EXECUTION_TIMEOUT_MS: slowed(2000) }, backend);
    });

    it("408 TIMEOUT at the configured limit, with the print before the sleep kept", async () => {
      const res = await postRaw(
        shortApp,
        String.raw`{"script": "import time\ndef main():\n  print(\"Sleeping...\")\n  time.sleep(20)\n  print(\"Done sleeping\")\n  return {\"status\": \"finished\"}"}`,
      );
      expectStatus(res, 408);
      expect(res.body.code).toBe("TIMEOUT");
      expect(res.body.error).toContain(`${slowed(2000)} ms`);
      expect(res.body.stdout).toBe("Sleeping...\n");
      expect(res.body).not.toHaveProperty("result");
    });
  });

  describe("a Flask + nsjail README", () => {
    it("hello world", async () => {
      const res = await postRaw(
        app,
        String.raw`{
    "script": "def main():\n  return {\"msg\": \"Hello, world!\"}"
  }`,
      );
      expectStatus(res, 200);
      expect(res.body.result).toEqual({ msg: "Hello, world!" });
      expect(res.body.stdout).toBe("");
    });

    it("pandas mean and max return numpy scalars, converted losslessly", async () => {
      const res = await postRaw(
        app,
        String.raw`{
      "script": "import pandas as pd\ndef main():\n    data = pd.DataFrame({\"numbers\": [1, 2, 3, 4, 5]})\n    return {\"mean\": data[\"numbers\"].mean(), \"max\": data[\"numbers\"].max()}"
    }`,
      );
      expectStatus(res, 200);
      expect(res.body.result).toEqual({ mean: 3, max: 5 });
      // np.float64 stays a float, np.int64 an integer.
      expect(res.text).toContain('"result":{"mean":3.0,"max":5}');
    });
  });

  describe("an AST-validation README", () => {
    it("a result that is itself named result", async () => {
      const res = await execute(app, "def main():\n    return {'result': 42}");
      expectStatus(res, 200);
      expect(res.body.result).toEqual({ result: 42 });
      expect(res.body.stdout).toBe("");
    });

    it("hello world", async () => {
      const res = await postRaw(app, String.raw`{"script": "def main():\n    return {\"hello\": \"world\"}"}`);
      expect(res.body.result).toEqual({ hello: "world" });
    });

    it("pandas imported inside main, a numpy float mean", async () => {
      const res = await execute(
        app,
        py`
          def main():
              import pandas as pd
              df = pd.DataFrame({"x": [1, 2, 3]})
              return {"mean": df["x"].mean()}
        `,
      );
      expectStatus(res, 200);
      expect(res.text).toContain('"result":{"mean":2.0}');
    });

    it("the live-demo script", async () => {
      const res = await postRaw(
        app,
        String.raw`{"script": "def main():\n    import pandas as pd\n    df = pd.DataFrame({\"x\": [1, 2, 3]})\n    print(\"Hello from Cloud Run!\")\n    return {\"mean\": float(df[\"x\"].mean())}"}`,
      );
      expectStatus(res, 200);
      expect(res.body.result).toEqual({ mean: 2 });
      expect(res.body.stdout).toBe("Hello from Cloud Run!\n");
    });
  });

  describe("a list of nsjail test cases", () => {
    it("missing main(): a script with only some_function", async () => {
      const res = await execute(
        app,
        py`
        def some_function():
            return {"data": "test"}
      `,
      );
      expectStatus(res, 400);
      expect(res.body.code).toBe("MAIN_NOT_FOUND");
      expect(res.body.stdout).toBe("");
    });

    it("a set returned: RESULT_NOT_JSON naming the type and a fix", async () => {
      const res = await execute(
        app,
        py`
        def main():
            return set([1, 2, 3])  # Sets are not JSON serializable
      `,
      );
      expectStatus(res, 400);
      expect(res.body.code).toBe("RESULT_NOT_JSON");
      expect(res.body.error).toContain("result is set");
      expect(res.body.error).toMatch(/list/);
    });

    it("the memory-hungry list: MEMORY_LIMIT_EXCEEDED, not a crash", async () => {
      const res = await execute(
        app,
        py`
        def main():
            large_list = list(range(100000000))  # Tries to allocate too much memory
            return {"data": large_list}
      `,
      );
      expectStatus(res, 400);
      expect(res.body.code).toBe("MEMORY_LIMIT_EXCEEDED");
      expect(res.body.error).toContain("Memory limit exceeded");
      expect(res.body.stdout).toBe("");
    });

    it("basic calculation", async () => {
      const res = await execute(
        app,
        py`
        def main():
            x = 10
            y = 20
            return {"sum": x + y, "product": x * y}
      `,
      );
      expectStatus(res, 200);
      expect(res.body.result).toEqual({ sum: 10 + 20, product: 10 * 20 });
      expect(res.body.stdout).toBe("");
    });

    it("pandas DataFrame operations", async () => {
      const res = await execute(
        app,
        py`
        def main():
            import pandas as pd
            df = pd.DataFrame({
                'A': [1, 2, 3],
                'B': [4, 5, 6]
            })
            return {
                "mean_A": float(df['A'].mean()),
                "sum_B": float(df['B'].sum())
            }
      `,
      );
      expectStatus(res, 200);
      expect(res.text).toContain('"result":{"mean_A":2.0,"sum_B":15.0}');
    });

    it("numpy computations", async () => {
      const res = await execute(
        app,
        py`
        def main():
            import numpy as np
            arr = np.array([1, 2, 3, 4, 5])
            return {
                "mean": float(np.mean(arr)),
                "std": float(np.std(arr))
            }
      `,
      );
      expectStatus(res, 200);
      expect(res.body.result).toEqual({ mean: 3, std: Math.sqrt(2) });
    });

    it("the curl example mixing pandas and numpy", async () => {
      const res = await postRaw(
        app,
        String.raw`{
      "script": "def main():\n    import pandas as pd\n    import numpy as np\n    data = {\"values\": np.array([1, 2, 3, 4, 5]).tolist(), \"mean\": float(np.mean([1, 2, 3, 4, 5]))}\n    return data"
    }`,
      );
      expectStatus(res, 200);
      expect(res.body.result).toEqual({ values: [1, 2, 3, 4, 5], mean: 3 });
    });

    it("basic JSON return", async () => {
      const res = await execute(
        app,
        py`
        def main():
            return {
                "status": "success",
                "data": [1, 2, 3, 4, 5],
                "message": "Script executed successfully"
            }
      `,
      );
      expect(res.body.result).toEqual({ status: "success", data: [1, 2, 3, 4, 5], message: "Script executed successfully" });
    });

    it("pandas and numpy together", async () => {
      const res = await execute(
        app,
        py`
        def main():
            import pandas as pd
            import numpy as np

            data = {
                'name': ['Alice', 'Bob', 'Charlie'],
                'age': [25, 30, 35],
                'score': [85, 92, 78]
            }

            df = pd.DataFrame(data)

            result = {
                'total_records': len(df),
                'average_age': float(df['age'].mean()),
                'average_score': float(df['score'].mean()),
                'highest_score': int(df['score'].max()),
                'lowest_score': int(df['score'].min())
            }

            return result
      `,
      );
      expectStatus(res, 200);
      expect(res.body.result).toEqual({
        total_records: 3,
        average_age: (25 + 30 + 35) / 3,
        average_score: (85 + 92 + 78) / 3,
        highest_score: 92,
        lowest_score: 78,
      });
    });

    it("mathematical operations on random data", async () => {
      const res = await execute(
        app,
        py`
        def main():
            import numpy as np

            random_data = np.random.normal(100, 15, 1000)

            stats = {
                'mean': float(np.mean(random_data)),
                'std': float(np.std(random_data)),
                'min': float(np.min(random_data)),
                'max': float(np.max(random_data)),
                'median': float(np.median(random_data))
            }

            return stats
      `,
      );
      expectStatus(res, 200);
      const stats = res.body.result as Record<string, number>;
      expect(Object.keys(stats).sort()).toEqual(["max", "mean", "median", "min", "std"]);
      expect(stats.min).toBeLessThanOrEqual(stats.median!);
      expect(stats.median).toBeLessThanOrEqual(stats.max!);
      expect(stats.min).toBeLessThanOrEqual(stats.mean!);
      expect(stats.mean).toBeLessThanOrEqual(stats.max!);
      expect(stats.std).toBeGreaterThan(0);
    });

    it("the README's request with a single-quoted dict", async () => {
      const res = await postRaw(
        app,
        String.raw`{
    "script": "def main():\n    return {'message': 'Hello, World!', 'number': 42}"
  }`,
      );
      expectStatus(res, 200);
      expect(res.body.result).toEqual({ message: "Hello, World!", number: 42 });
      // Unlike that README's sample response, the result is not echoed into stdout.
      expect(res.body.stdout).toBe("");
    });
  });
});
