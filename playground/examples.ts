import type { InputFile } from "./run-request.js";

/** A script of the examples menu, with what the request sends along and how the run ends. */
export interface Example {
  readonly id: string;
  readonly title: string;
  readonly group: "Examples" | "Errors" | "Data in and out";
  readonly script: string;
  readonly args?: Record<string, unknown>;
  readonly files?: readonly InputFile[];
  readonly timeoutMs?: number;
  /** "OK", or the failure code the run ends with; test/integration/playground-examples.test.ts runs every example and checks it. */
  readonly outcome: string;
}

const SALES_CSV = `region,product,units,price
north,apples,120,0.5
north,pears,80,0.75
south,apples,200,0.45
south,pears,40,0.8
east,apples,90,0.55
east,pears,110,0.7
`;

export const EXAMPLES: readonly Example[] = [
  {
    id: "hello",
    title: "Hello, world",
    group: "Examples",
    script: 'def main():\n    return {"message": "Hello, World!"}\n',
    outcome: "OK",
  },
  {
    id: "pandas-series",
    title: "pandas Series: sum and count, with output",
    group: "Examples",
    script: `import numpy as np
import pandas as pd

def main():
    print("Calculating...")
    s = pd.Series([1, 3, 5, np.nan, 6, 8])
    print(f"Series length: {len(s)}")
    # Convert numpy types for JSON
    return {"total": float(s.sum()), "count": int(s.count())}
`,
    outcome: "OK",
  },
  {
    id: "dataframe",
    title: "DataFrame: mean and sum of columns",
    group: "Examples",
    script: `def main():
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
    outcome: "OK",
  },
  {
    id: "numpy-scalars",
    title: "numpy scalars are returned as they are",
    group: "Examples",
    script: `import pandas as pd

def main():
    data = pd.DataFrame({"numbers": [1, 2, 3, 4, 5]})
    return {"mean": data["numbers"].mean(), "max": data["numbers"].max()}
`,
    outcome: "OK",
  },
  {
    id: "numpy-std",
    title: "NumPy: mean and standard deviation",
    group: "Examples",
    script: `def main():
    import numpy as np
    arr = np.array([1, 2, 3, 4, 5])
    return {
        "mean": float(np.mean(arr)),
        "std": float(np.std(arr))
    }
`,
    outcome: "OK",
  },
  {
    id: "no-main",
    title: "No main()",
    group: "Errors",
    script: 'print("This script has no main")\nx = 1 + 1\n',
    outcome: "MAIN_NOT_FOUND",
  },
  {
    id: "syntax-error",
    title: "A syntax error",
    group: "Errors",
    script: 'def main():\n  print("Hello")\n  x = 1 + \n  return {"ok": True}\n',
    outcome: "SYNTAX_ERROR",
  },
  {
    id: "exception",
    title: "An exception, with its traceback",
    group: "Errors",
    script: `def average(values):
    return sum(values) / len(values)

def main():
    print("before")
    return average([])
`,
    outcome: "RUNTIME_ERROR",
  },
  {
    id: "ndarray",
    title: "An ndarray is not JSON",
    group: "Errors",
    script: 'import numpy as np\n\ndef main():\n    print("Returning ndarray")\n    return np.array([1, 2, 3])\n',
    outcome: "RESULT_NOT_JSON",
  },
  {
    id: "timeout",
    title: "Too slow (a 2 s limit)",
    group: "Errors",
    script: 'import time\n\ndef main():\n    print("Sleeping...")\n    time.sleep(20)\n    print("Done sleeping")\n    return {"status": "finished"}\n',
    timeoutMs: 2000,
    outcome: "TIMEOUT",
  },
  {
    id: "memory",
    title: "Too much memory",
    group: "Errors",
    script: 'def main():\n    large_list = list(range(100000000))\n    return {"data": large_list}\n',
    outcome: "MEMORY_LIMIT_EXCEEDED",
  },
  {
    id: "csv-aggregate",
    title: "CSV aggregate: a file in, args, a file out",
    group: "Data in and out",
    script: `import pandas as pd

def main(group_by="region", min_units=0):
    sales = pd.read_csv("sales.csv")
    sales = sales[sales["units"] >= min_units]
    sales["revenue"] = sales["units"] * sales["price"]
    summary = sales.groupby(group_by)[["units", "revenue"]].sum().round(2)
    summary.to_csv("summary.csv")
    print(summary)
    return {
        "rows": len(sales),
        "revenue_by_" + group_by: summary["revenue"].to_dict(),
    }
`,
    args: { group_by: "region", min_units: 50 },
    files: [{ path: "sales.csv", content: SALES_CSV, encoding: "utf-8" }],
    outcome: "OK",
  },
  {
    id: "plot",
    title: "A plot: matplotlib figures come back as images",
    group: "Data in and out",
    script: `import matplotlib.pyplot as plt
import numpy as np

def main(cycles=2):
    x = np.linspace(0, cycles * 2 * np.pi, 400)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(x, np.sin(x), label="sin")
    ax.plot(x, np.cos(x), label="cos")
    ax.set_title(f"{cycles} cycles")
    ax.legend()
    return {"points": len(x)}
`,
    args: { cycles: 2 },
    outcome: "OK",
  },
];
