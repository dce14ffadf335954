import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SandboxUids } from "./sandbox-uids.js";
import { UidLeases } from "./uid-leases.js";

let dir: string;
beforeEach(() => {
  dir = join(mkdtempSync(join(tmpdir(), "uid-leases-test-")), "leases");
});
afterEach(() => {
  rmSync(join(dir, ".."), { recursive: true, force: true });
});

/** A pid no process has: above the kernel's pid_max. */
const DEAD_PID = 2 ** 30;

describe("UidLeases", () => {
  it("a uid is held by one claimer at a time, and free again once released", () => {
    const mine = new UidLeases(dir);
    const other = new UidLeases(dir); // another SandboxUids of this process, or another server
    expect(mine.claim(920_000)).toBe(true);
    expect(other.claim(920_000)).toBe(false);
    expect(other.claim(920_001)).toBe(true);
    mine.release(920_000);
    expect(other.claim(920_000)).toBe(true);
  });

  it("takes over the lease of a holder that died", () => {
    mkdirSync(join(dir, "920000"), { recursive: true });
    writeFileSync(join(dir, "920000", String(DEAD_PID)), "");
    const leases = new UidLeases(dir);
    expect(leases.claim(920_000)).toBe(true);
    expect(readdirSync(join(dir, "920000"))).toEqual([String(process.pid)]);
  });

  it("leaves no staging directories behind", () => {
    const leases = new UidLeases(dir);
    leases.claim(920_000);
    leases.claim(920_000);
    expect(readdirSync(dir)).toEqual(["920000"]);
  });
});

describe("SandboxUids over leases", () => {
  it("skips uids another holder has and hands them out once they are free", () => {
    const elsewhere = new UidLeases(dir);
    elsewhere.claim(100);
    const uids = new SandboxUids(100, 3, new UidLeases(dir));
    expect(uids.acquire()).toBe(101);
    expect(uids.acquire()).toBe(102);
    expect(() => uids.acquire()).toThrow(/no free sandbox uid/);
    elsewhere.release(100);
    expect(uids.acquire()).toBe(100);
  });
});
