import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { childWithNamespacePid, firstChild, namespaceChildren } from "./host-pid.js";

let root: string | undefined;
afterEach(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

/** A /proc with a fork server (host pid 500, pid 1 of its namespace) and its children, each with its NSpid line. */
function fakeProc(children: Record<number, string>, forkServer = "500\t1"): string {
  root = mkdtempSync(join(tmpdir(), "host-pid-"));
  mkdirSync(join(root, "500", "task", "500"), { recursive: true });
  writeFileSync(join(root, "500", "task", "500", "children"), `${Object.keys(children).join(" ")} `);
  writeFileSync(join(root, "500", "status"), `Name:\tpython\nPid:\t500\nNSpid:\t${forkServer}\n`);
  for (const [pid, nspid] of Object.entries(children)) {
    mkdirSync(join(root, pid), { recursive: true });
    writeFileSync(join(root, pid, "status"), `Name:\tpython\nPid:\t${pid}\nNSpid:\t${nspid}\nPPid:\t500\n`);
  }
  return root;
}

describe("childWithNamespacePid", () => {
  it("finds the child whose pid in the fork server's namespace is the one the fork server named", async () => {
    const proc = fakeProc({ 601: "601\t7", 602: "602\t8", 603: "603\t9" });
    expect(childWithNamespacePid(500, 8, proc)).toBe(602);
    expect(childWithNamespacePid(500, 9, proc)).toBe(603);
  });

  it("reads the fork server's level when the children are pid 1 of namespaces of their own", async () => {
    const proc = fakeProc({ 601: "601\t7\t1", 602: "602\t8\t1" });
    expect(childWithNamespacePid(500, 8, proc)).toBe(602);
    expect(childWithNamespacePid(500, 1, proc)).toBeUndefined();
  });

  it("reads the right level when the server itself runs in a pid namespace below the host's", async () => {
    const proc = fakeProc({ 601: "9001\t3\t1" }, "9000\t1");
    expect(childWithNamespacePid(500, 3, proc)).toBe(601);
  });

  it("is undefined for no such child, and for a parent that is gone", async () => {
    const proc = fakeProc({ 601: "601\t7" });
    expect(childWithNamespacePid(500, 70, proc)).toBeUndefined();
    expect(childWithNamespacePid(999, 7, proc)).toBeUndefined();
  });
});

describe("namespaceChildren", () => {
  it("reads the parent's namespace level once, and each child's as it looks for it", async () => {
    const proc = fakeProc({ 601: "601\t7\t1" });
    const find = namespaceChildren(500, proc);
    rmSync(join(proc, "500", "status"));
    expect(find?.(7)).toBe(601);
    writeFileSync(join(proc, "500", "task", "500", "children"), "601 602 ");
    mkdirSync(join(proc, "602"));
    writeFileSync(join(proc, "602", "status"), "Name:\tpython\nPid:\t602\nNSpid:\t602\t8\t1\n");
    expect(find?.(8)).toBe(602);
    expect(namespaceChildren(500, proc)).toBeUndefined();
  });
});

describe("firstChild", () => {
  it("is the first child listed, or undefined for a parent that is gone", async () => {
    const proc = fakeProc({ 601: "601\t1" });
    expect(firstChild(500, proc)).toBe(601);
    expect(firstChild(999, proc)).toBeUndefined();
  });
});
