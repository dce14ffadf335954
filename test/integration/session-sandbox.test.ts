import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HarnessSessions } from "../../adapters/session/harness-sessions.js";
import type { SandboxOutcome } from "../../domain/sandbox.port.js";
import type { Cell, SandboxSession } from "../../domain/session.port.js";
import { artifactLimitsOf } from "../../src/sandbox-factory.js";
import { backends, closeSandboxes, realSandbox } from "../support/backends.js";
import { scaled } from "../support/slowdown.js";

/**
 * Sessions on every backend, through the adapter every backend shares (a session is one run of
 * the backend whose harness serves cells): the real harness in the real sandbox.
 */
const BACKENDS = await backends("subprocess", "subprocess pooled", "nsjail", "nsjail pooled", "nsjail zygote");

afterAll(closeSandboxes);

const cellOf = (code: string, timeoutMs = scaled(20_000)): Cell => ({ code, timeoutMs });

const resultOf = (outcome: SandboxOutcome): unknown => {
  if (!outcome.ok) throw new Error(`${outcome.error.code}: ${outcome.error.message}\n${outcome.error.traceback ?? ""}`);
  return JSON.parse(outcome.value.resultJson);
};

describe.each(BACKENDS)("$name: sessions", (backend) => {
  let sessions: HarnessSessions;

  beforeAll(async () => {
    const { sandbox, config } = await realSandbox({}, backend);
    sessions = new HarnessSessions(sandbox, {
      maxOutputBytes: config.maxOutputBytes,
      maxResultBytes: config.maxResultBytes,
      artifactLimits: artifactLimitsOf(config),
    });
  });

  const open = async (memoryMb = 256, files?: Cell["files"]): Promise<SandboxSession> => {
    const opened = await sessions.openSession({ memoryMb, maxAgeMs: scaled(120_000), ...(files ? { files } : {}) });
    if (!opened.ok) throw new Error(`${opened.error.code}: ${opened.error.message}`);
    return opened.value;
  };

  it("a later cell sees the variables, imports and functions of earlier ones, in __main__", async () => {
    const session = await open();
    try {
      expect(resultOf((await session.runCell(cellOf("import math\nx = 41\ndef inc(v):\n    return v + 1"))).outcome)).toBeNull();
      expect(resultOf((await session.runCell(cellOf("inc(x) + math.floor(0.5)"))).outcome)).toBe(42);
      expect(resultOf((await session.runCell(cellOf("__name__"))).outcome)).toBe("__main__");
    } finally {
      await session.end();
    }
  });

  it("each cell's output is its own, also what the process writes itself", async () => {
    const session = await open();
    try {
      const first = (await session.runCell(cellOf("import sys\nprint('one')\nprint('uno', file=sys.stderr)"))).outcome;
      expect(first.ok && [first.value.output.stdout, first.value.output.stderr]).toEqual(["one\n", "uno\n"]);
      const second = (await session.runCell(cellOf("import os\nos.write(1, b'two\\n')\nos.system('echo three')"))).outcome;
      expect(second.ok && second.value.output.stdout).toBe("two\nthree\n");
    } finally {
      await session.end();
    }
  });

  it("a cell stopped at its time limit is TIMEOUT with KeyboardInterrupt, and the session keeps its state", async () => {
    const session = await open();
    try {
      await session.runCell(cellOf("kept = 'yes'"));
      const { outcome, sessionEnded } = await session.runCell(cellOf("import time\nprint('sleeping')\ntime.sleep(60)", scaled(1000)));
      expect(sessionEnded).toBe(false);
      expect(!outcome.ok && [outcome.error.code, outcome.error.output.stdout]).toEqual(["TIMEOUT", "sleeping\n"]);
      expect(!outcome.ok && outcome.error.traceback).toContain("KeyboardInterrupt");
      expect(resultOf((await session.runCell(cellOf("kept"))).outcome)).toBe("yes");
    } finally {
      await session.end();
    }
  });

  it("a cell that ignores its interrupt ends its session, which says so", async () => {
    const session = await open();
    const code = "import signal, time\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\ntime.sleep(60)";
    const { outcome, sessionEnded } = await session.runCell(cellOf(code, scaled(500)));
    expect(sessionEnded).toBe(true);
    expect(!outcome.ok && outcome.error.code).toBe("TIMEOUT");
    expect(await session.ended).toBeTypeOf("string");
  });

  it("a cell that exits the process ends its session", async () => {
    const session = await open();
    const { outcome, sessionEnded } = await session.runCell(cellOf("print('bye', flush=True)\nimport os\nos._exit(3)"));
    expect(sessionEnded).toBe(true);
    expect(!outcome.ok && outcome.error.output.stdout).toBe("bye\n");
  });

  it("the session's memory limit is the whole session's: hitting it ends the session with MEMORY_LIMIT_EXCEEDED", async () => {
    const session = await open(128);
    await session.runCell(cellOf("a = bytearray(60 * 2**20)"));
    const { outcome, sessionEnded } = await session.runCell(cellOf("b = bytearray(60 * 2**20)\nc = bytearray(60 * 2**20)"));
    expect(!outcome.ok && outcome.error.code).toBe("MEMORY_LIMIT_EXCEEDED");
    expect(sessionEnded).toBe(true);
  });

  it("the work dir lasts the session; a cell's files are those it created or changed", async () => {
    const session = await open(256, [{ path: "data.csv", content: "a,b\n1,2\n", encoding: "utf-8" }]);
    try {
      const first = (await session.runCell(cellOf("import pandas as pd\ndf = pd.read_csv('data.csv')\ndf.to_csv('out.csv')\nint(df.b[0])"))).outcome;
      expect(resultOf(first)).toBe(2);
      expect(first.ok && first.value.artifacts?.files.map((file) => file.path)).toEqual(["out.csv"]);
      const second = (await session.runCell({ ...cellOf("open('data.csv').read()"), files: [{ path: "data.csv", content: "new", encoding: "utf-8" }] }))
        .outcome;
      expect(resultOf(second)).toBe("new");
      expect(second.ok && second.value.artifacts).toBeUndefined();
    } finally {
      await session.end();
    }
  });

  it("a figure shown in a cell comes back with that cell only", async () => {
    const session = await open();
    try {
      const code = "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()";
      const first = (await session.runCell(cellOf(code))).outcome;
      expect(first.ok && first.value.artifacts?.figures.length).toBe(1);
      const second = (await session.runCell(cellOf("1"))).outcome;
      expect(second.ok && second.value.artifacts).toBeUndefined();
    } finally {
      await session.end();
    }
  });

  it("a session opened with a file it cannot write is refused, and nothing of it is left", async () => {
    const opened = await sessions.openSession({ memoryMb: 256, maxAgeMs: scaled(60_000), files: [{ path: "x", content: "!!", encoding: "base64" }] });
    expect(!opened.ok && opened.error.code).toBe("INVALID_REQUEST");
  });
});
