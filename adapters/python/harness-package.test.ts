import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HARNESS_PACKAGE, harnessBootstrap, harnessSnapshot } from "./harness-package.js";

describe("harnessSnapshot", () => {
  let parent: string;
  let source: string;
  beforeEach(() => {
    parent = mkdtempSync(join(tmpdir(), "harness-snapshot-test-"));
    source = join(parent, "source");
    mkdirSync(source);
    writeFileSync(join(source, "serve.py"), "print('serve')\n");
    writeFileSync(join(source, "protocol.json"), "{}\n");
    writeFileSync(join(source, "notes.txt"), "not part of the package\n");
  });
  afterEach(() => rmSync(parent, { recursive: true, force: true }));

  it("copies the package's .py and .json files, readable by everyone and writable by no one", () => {
    const dir = harnessSnapshot(source, parent);
    const copy = join(dir, HARNESS_PACKAGE);
    expect(readdirSync(copy).sort()).toEqual(["protocol.json", "serve.py"]);
    expect(readFileSync(join(copy, "serve.py"), "utf8")).toBe("print('serve')\n");
    expect(statSync(join(copy, "serve.py")).mode & 0o777).toBe(0o444);
    expect(statSync(copy).mode & 0o777).toBe(0o755);
    expect(statSync(dir).mode & 0o777).toBe(0o755);
  });

  it("is named by the content: the same source gives the same snapshot, a changed one a new one", () => {
    const first = harnessSnapshot(source, parent);
    expect(harnessSnapshot(source, parent)).toBe(first);
    writeFileSync(join(source, "serve.py"), "print('changed')\n");
    const second = harnessSnapshot(source, parent);
    expect(second).not.toBe(first);
    expect(readFileSync(join(second, HARNESS_PACKAGE, "serve.py"), "utf8")).toBe("print('changed')\n");
  });

  it("does not reuse a directory of that name that others could change, or whose files changed: the copy gets a name of its own", () => {
    const dir = harnessSnapshot(source, parent);
    chmodSync(dir, 0o777);
    const instead = harnessSnapshot(source, parent);
    expect(instead).not.toBe(dir);
    expect(readFileSync(join(instead, HARNESS_PACKAGE, "serve.py"), "utf8")).toBe("print('serve')\n");
    chmodSync(dir, 0o755);
    chmodSync(join(dir, HARNESS_PACKAGE, "serve.py"), 0o644);
    writeFileSync(join(dir, HARNESS_PACKAGE, "serve.py"), "print('tampered')\n");
    chmodSync(join(dir, HARNESS_PACKAGE, "serve.py"), 0o444);
    const again = harnessSnapshot(source, parent);
    expect(readFileSync(join(again, HARNESS_PACKAGE, "serve.py"), "utf8")).toBe("print('serve')\n");
    writeFileSync(join(dir, HARNESS_PACKAGE, "extra.py"), "");
    expect(harnessSnapshot(source, parent)).not.toBe(dir);
  });
});

describe("harnessBootstrap", () => {
  it("imports the entry from the directory and takes the directory off the path before main()", () => {
    expect(harnessBootstrap("/sandbox/harness", "fork_server")).toBe(
      'import sys; sys.path.insert(0, "/sandbox/harness"); from sandbox_harness.fork_server import main; del sys.path[0]; main()',
    );
    expect(() => harnessBootstrap("relative", "serve")).toThrow(/absolute/);
    expect(() => harnessBootstrap('/a"b', "serve")).toThrow(/quotes/);
    expect(() => harnessBootstrap("/a\rb", "serve")).toThrow(/control characters/);
  });
});
