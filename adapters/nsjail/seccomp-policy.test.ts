import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { allowing, childSeccompRules, parseSeccompPolicy, renderKafel, seccompStrings, withoutSeccompStrings, X86_64_SYSCALLS } from "./seccomp-policy.js";

const config = readFileSync(new URL("../../nsjail.cfg", import.meta.url), "utf8");
const policy = () => parseSeccompPolicy(seccompStrings(config).join("\n"));

describe("nsjail.cfg's seccomp policy as data", () => {
  it("reads every denied syscall of nsjail.cfg, with its errno and condition", () => {
    const rules = policy();
    expect(rules.find((rule) => rule.syscall === "ptrace")).toEqual({ syscall: "ptrace", errno: 1 });
    const rule = (syscall: string) => rules.find((candidate) => candidate.syscall === syscall);
    expect(rule("clone")).toEqual({ syscall: "clone", errno: 1, when: { arg: 0, test: { kind: "masked-nonzero", mask: 0x7e020080 } } });
    expect(rule("personality")).toEqual({ syscall: "personality", errno: 1, when: { arg: 0, test: { kind: "not-in", values: [0, 0xffffffff] } } });
    expect(rule("tgkill")).toEqual({ syscall: "tgkill", errno: 1, when: { arg: 2, test: { kind: "at-least", value: 32 } } });
    expect(rule("fcntl")).toEqual({ syscall: "fcntl", errno: 1, when: { arg: 1, test: { kind: "low-word-equals", value: 10 } } });
    expect(rule("socket")).toEqual({ syscall: "socket", errno: 97, when: { arg: 0, test: { kind: "not-in", values: [1, 2, 10] } } });
    expect(rule("clone3")).toEqual({ syscall: "clone3", errno: 38 });
    for (const syscall of ["mount", "umount", "unshare", "setns", "bpf", "keyctl", "perf_event_open", "process_vm_readv"]) {
      expect(rules.map((rule) => rule.syscall)).toContain(syscall);
    }
  });

  it("renders Kafel that reads back as the same rules", () => {
    const rules = policy();
    expect(parseSeccompPolicy(renderKafel(rules))).toEqual(rules);
  });

  it("refuses what it does not understand rather than dropping it", () => {
    expect(() => parseSeccompPolicy("KILL { ptrace } DEFAULT ALLOW")).toThrow(/unsupported/);
    expect(() => parseSeccompPolicy("ERRNO(1) { no_such_call } DEFAULT ALLOW")).toThrow(/no_such_call/);
    expect(() => parseSeccompPolicy("ERRNO(1) { clone(f) { f > 3 } } DEFAULT ALLOW")).toThrow(/condition/);
    expect(() => parseSeccompPolicy("ERRNO(1) { kill(p, s) { p != 1 && s != 2 } } DEFAULT ALLOW")).toThrow(/condition/);
    expect(() => parseSeccompPolicy("ERRNO(1) { kill(p, s) { q == 1 } } DEFAULT ALLOW")).toThrow(/condition/);
    expect(() => parseSeccompPolicy("ERRNO(1) { kill(p, s) { s >= 0x100000000 } } DEFAULT ALLOW")).toThrow(/32-bit/);
    // All 64 bits compared: a high bit set would pass the test and the kernel still read s == 10.
    expect(() => parseSeccompPolicy("ERRNO(1) { kill(p, s) { s == 10 } } DEFAULT ALLOW")).toThrow(/condition/);
    expect(() => parseSeccompPolicy("ERRNO(1) { ptrace } DEFAULT KILL")).toThrow(/unsupported/);
    expect(() => parseSeccompPolicy("ERRNO(1) { ptrace, ptrace } DEFAULT ALLOW")).toThrow(/twice/);
  });

  it("allowing() lifts exactly the named syscalls and refuses one the policy does not deny", () => {
    const rules = policy();
    const relaxed = allowing(rules, ["mount", "unshare"]);
    expect(relaxed.map((rule) => rule.syscall)).toEqual(rules.map((rule) => rule.syscall).filter((s) => s !== "mount" && s !== "unshare"));
    expect(() => allowing(rules, ["read"])).toThrow(/does not deny read/);
  });

  it("gives the children's rules as syscall numbers", () => {
    const rules = childSeccompRules(policy());
    expect(rules).toContainEqual({ nr: 101, errno: 1 });
    expect(rules).toContainEqual({ nr: 56, errno: 1, arg: 0, maskedNonZero: 0x7e020080 });
    expect(rules).toContainEqual({ nr: 135, errno: 1, arg: 0, notIn: [0, 0xffffffff] });
    expect(rules).toContainEqual({ nr: 234, errno: 1, arg: 2, atLeast: 32 });
    expect(rules).toContainEqual({ nr: 72, errno: 1, arg: 1, lowWordEquals: 10 });
    expect(rules).toContainEqual({ nr: 435, errno: 38 });
    expect(rules).toHaveLength(policy().length);
  });

  it("strips the seccomp_string fields from a config and keeps every other line", () => {
    const stripped = withoutSeccompStrings(config);
    expect(seccompStrings(stripped)).toEqual([]);
    expect(stripped.split("\n").length).toBe(config.split("\n").length - seccompStrings(config).length);
    expect(stripped).toContain("mode: ONCE");
  });

  // The kernel's own table, where the headers are installed.
  const header = "/usr/include/x86_64-linux-gnu/asm/unistd_64.h";
  it.runIf(existsSync(header))("numbers every syscall as the kernel's x86-64 table does", () => {
    const kernel = new Map<string, number>();
    for (const match of readFileSync(header, "utf8").matchAll(/^#define __NR_(\w+) (\d+)$/gm)) kernel.set(match[1]!, Number(match[2]));
    for (const [name, nr] of Object.entries(X86_64_SYSCALLS)) {
      expect(kernel.get(name === "umount" ? "umount2" : name), name).toBe(nr);
    }
  });
});
