/**
 * The documented request bodies of POST /execute, one per feature: Swagger UI offers each in
 * its example list, ready to send with "Try it out".
 */
const lines = (...source: string[]): string => `${source.join("\n")}\n`;

export const REQUEST_EXAMPLES = {
  hello: {
    summary: "A script and its output",
    value: { script: lines("def main():", '    print("adding")', '    return {"sum": 1 + 2}') },
  },
  args: {
    summary: "args: main(**args), with a default and a keyword-only parameter",
    value: {
      script: lines('def main(name, *, greeting="Hello", times=1):', '    return [f"{greeting}, {name}!"] * times'),
      args: { name: "Ada", times: 2 },
    },
  },
  csv: {
    summary: "A CSV in, a pandas aggregate as the result and a CSV out",
    value: {
      script: lines(
        "import pandas as pd",
        "",
        "def main():",
        '    sales = pd.read_csv("data/sales.csv")',
        '    totals = sales.groupby("region")["amount"].sum()',
        '    totals.to_csv("totals.csv")',
        "    return {region: int(amount) for region, amount in totals.items()}",
      ),
      files: [{ path: "data/sales.csv", content: "region,amount\neast,10\nwest,5\neast,7\n" }],
    },
  },
  binary: {
    summary: "A binary file in and out (base64)",
    value: {
      script: lines("def main():", '    data = open("in.bin", "rb").read()', '    open("out.bin", "wb").write(bytes(reversed(data)))', "    return len(data)"),
      files: [{ path: "in.bin", content: "AAEC/f7/", encoding: "base64" }],
    },
  },
  figure: {
    summary: "A matplotlib figure as a PNG",
    value: {
      script: lines(
        "import matplotlib.pyplot as plt",
        "",
        "def main():",
        "    plt.figure(figsize=(4, 3))",
        "    plt.plot([1, 4, 9, 16])",
        '    plt.title("squares")',
        "    plt.show()",
        '    return "plotted"',
      ),
    },
  },
  unsafePath: {
    summary: "An input file outside the work dir: 400 INVALID_REQUEST",
    value: { script: lines("def main():", "    return 1"), files: [{ path: "../outside.txt", content: "x" }] },
  },
  invalidArgs: {
    summary: "args that do not fit main(): 400 INVALID_ARGS",
    value: { script: lines("def main(name):", "    return name"), args: { nmae: "Ada" } },
  },
} as const;

/** A 1x1 PNG, standing in for a figure in the documented response. */
const TINY_PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg==";

/** The documented 200 responses. */
export const SUCCESS_EXAMPLES = {
  hello: {
    summary: "A result and its output",
    value: { result: { sum: 3 }, stdout: "adding\n", stderr: "", stdoutTruncated: false, stderrTruncated: false, durationMs: 21 },
  },
  filesAndFigures: {
    summary: "With the files the run wrote and its figures",
    value: {
      result: { east: 17, west: 5 },
      stdout: "",
      stderr: "",
      stdoutTruncated: false,
      stderrTruncated: false,
      durationMs: 48,
      files: [{ path: "totals.csv", size: 29, mediaType: "text/csv", encoding: "utf-8", content: "region,amount\neast,17\nwest,5\n" }],
      filesTruncated: false,
      figures: [{ mediaType: "image/png", encoding: "base64", content: TINY_PNG, width: 1, height: 1 }],
      figuresTruncated: false,
    },
  },
} as const;

/** The documented bodies of POST /sessions. */
export const SESSION_REQUEST_EXAMPLES = {
  defaults: { summary: "A session with the default memory and idle timeout", value: {} },
  withData: {
    summary: "More idle time, and a CSV in its work dir for the cells to read",
    value: { memoryMb: 256, idleTimeoutMs: 1_800_000, files: [{ path: "data/sales.csv", content: "region,amount\neast,10\nwest,5\neast,7\n" }] },
  },
} as const;

/** The documented bodies of POST /sessions/{id}/execute: cells, each building on the one before. */
export const CELL_REQUEST_EXAMPLES = {
  load: {
    summary: "A first cell: load the data once (a statement last: result null)",
    value: { code: lines("import pandas as pd", 'sales = pd.read_csv("data/sales.csv")') },
  },
  explore: {
    summary: "A later cell: it sees sales; its last line is its result",
    value: { code: lines('totals = sales.groupby("region")["amount"].sum()', "totals.to_dict()") },
  },
  repr: {
    summary: "A value that is not JSON comes back as its repr()",
    value: { code: "sales.head(2)" },
  },
} as const;

/** The documented 200 responses of a cell. */
export const CELL_SUCCESS_EXAMPLES = {
  json: {
    summary: "A JSON value",
    value: { result: { east: 17, west: 5 }, stdout: "", stderr: "", stdoutTruncated: false, stderrTruncated: false, durationMs: 4 },
  },
  repr: {
    summary: 'A value that is not JSON: its repr(), resultKind "repr"',
    value: {
      result: "  region  amount\n0   east      10\n1   west       5",
      resultKind: "repr",
      stdout: "",
      stderr: "",
      stdoutTruncated: false,
      stderrTruncated: false,
      durationMs: 3,
    },
  },
} as const;
