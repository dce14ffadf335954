/**
 * nsjail.cfg's seccomp policy (its `seccomp_string` lines, in nsjail's Kafel language) as data,
 * so that what it denies is stated once, there, and can also be applied where nsjail does not
 * install it: the fork server's children install the same rules themselves (as a BPF program
 * built by sandbox_harness/seccomp.py), and the fork server's own jail gets the policy minus what it needs to
 * build their namespaces. Pure: no I/O.
 *
 * Only the subset of Kafel the policy uses is understood, and anything else is an error rather
 * than a guess: `ERRNO(n) { entry, ... }` blocks and `DEFAULT ALLOW`, where an entry is a
 * syscall name or `name(arg, ...) { test }`, the test on one argument being `(x & MASK) != 0`,
 * `x != A && x != B ...`, `x >= A` or `(x & 0xffffffff) == A`, with constants of 32 bits.
 * A bare `x == A` is refused: Kafel compares all 64 bits, the kernel reads an int argument's
 * low 32 only, so a caller setting a high bit would pass the test and still mean A.
 */

/** A test on one argument of a syscall, with Kafel's meaning (arguments are unsigned 64-bit). */
type ArgumentTest =
  | { readonly kind: "masked-nonzero"; readonly mask: number }
  | { readonly kind: "not-in"; readonly values: readonly number[] }
  | { readonly kind: "at-least"; readonly value: number }
  /** The argument's low 32 bits are `value` (an int argument: what the kernel reads of it). */
  | { readonly kind: "low-word-equals"; readonly value: number };

/** One denied syscall, and the test on one of its arguments under which it is denied (none: always). */
export interface SeccompRule {
  readonly syscall: string;
  readonly errno: number;
  readonly when?: { readonly arg: number; readonly test: ArgumentTest };
}

/** x86-64 syscall numbers of the names nsjail.cfg's policy uses (Kafel's names: "umount" is umount2). */
export const X86_64_SYSCALLS: Readonly<Record<string, number>> = {
  clone: 56,
  ptrace: 101,
  syslog: 103,
  uselib: 134,
  personality: 135,
  vhangup: 153,
  pivot_root: 155,
  adjtimex: 159,
  chroot: 161,
  acct: 163,
  settimeofday: 164,
  mount: 165,
  umount: 166,
  swapon: 167,
  swapoff: 168,
  reboot: 169,
  sethostname: 170,
  setdomainname: 171,
  iopl: 172,
  ioperm: 173,
  init_module: 175,
  delete_module: 176,
  quotactl: 179,
  nfsservctl: 180,
  lookup_dcookie: 212,
  clock_settime: 227,
  kexec_load: 246,
  add_key: 248,
  request_key: 249,
  keyctl: 250,
  unshare: 272,
  perf_event_open: 298,
  fanotify_init: 300,
  name_to_handle_at: 303,
  open_by_handle_at: 304,
  clock_adjtime: 305,
  setns: 308,
  process_vm_readv: 310,
  process_vm_writev: 311,
  kcmp: 312,
  finit_module: 313,
  kexec_file_load: 320,
  bpf: 321,
  userfaultfd: 323,
  io_uring_setup: 425,
  io_uring_enter: 426,
  io_uring_register: 427,
  open_tree: 428,
  move_mount: 429,
  fsopen: 430,
  fsconfig: 431,
  fsmount: 432,
  fspick: 433,
  clone3: 435,
  pidfd_getfd: 438,
  process_madvise: 440,
  mount_setattr: 442,
  socket: 41,
  socketpair: 53,
  kill: 62,
  fcntl: 72,
  rt_sigqueueinfo: 129,
  tkill: 200,
  fadvise64: 221,
  tgkill: 234,
  inotify_init: 253,
  inotify_add_watch: 254,
  inotify_init1: 294,
  rt_tgsigqueueinfo: 297,
  fanotify_mark: 301,
  pidfd_send_signal: 424,
};

/** A rule as the fork server's children install it (sandbox_harness/seccomp.py's seccomp_program). */
export interface ChildSeccompRule {
  readonly nr: number;
  readonly errno: number;
  /** The argument tested, and the test: the syscall is denied when it holds. */
  readonly arg?: number;
  readonly maskedNonZero?: number;
  readonly notIn?: readonly number[];
  readonly atLeast?: number;
  readonly lowWordEquals?: number;
}

/** The values of the `seccomp_string` fields of an nsjail config (protobuf text format), in order. */
export function seccompStrings(configText: string): string[] {
  const values: string[] = [];
  for (const match of configText.matchAll(/^\s*seccomp_string\s*:\s*"((?:[^"\\]|\\.)*)"\s*$/gm)) {
    values.push((match[1] ?? "").replace(/\\(.)/g, "$1"));
  }
  return values;
}

/** The config without its `seccomp_string` fields (for a jail whose policy is given on the command line instead). */
export function withoutSeccompStrings(configText: string): string {
  return configText
    .split("\n")
    .filter((line) => !/^\s*seccomp_string\s*:/.test(line))
    .join("\n");
}

export function parseSeccompPolicy(kafel: string): SeccompRule[] {
  let rest = kafel.replace(/\s+/g, " ").trim();
  const rules: SeccompRule[] = [];
  for (;;) {
    rest = rest.trimStart();
    if (/^DEFAULT ALLOW$/.test(rest)) break;
    const block = /^ERRNO\((\d+)\) \{ ?/.exec(rest);
    if (!block) throw new Error(`unsupported seccomp policy at: ${rest.slice(0, 60)}`);
    const errno = Number(block[1]);
    rest = rest.slice(block[0].length);
    for (;;) {
      const entry = /^([a-z0-9_]+)(?: ?\(([a-z0-9_, ]+)\) ?\{ ?([^}]*?) ?\})? ?(,|\}) ?/.exec(rest);
      if (!entry) throw new Error(`unsupported seccomp policy entry at: ${rest.slice(0, 60)}`);
      const [whole, syscall = "", args, condition, end] = entry;
      if (!(syscall in X86_64_SYSCALLS)) throw new Error(`seccomp policy names ${syscall}, whose x86-64 number is not known here`);
      rules.push({
        syscall,
        errno,
        ...(args === undefined
          ? {}
          : {
              when: parseCondition(
                args.split(",").map((a) => a.trim()),
                condition ?? "",
              ),
            }),
      });
      rest = rest.slice(whole.length);
      if (end === "}") break;
    }
  }
  const seen = new Set<string>();
  for (const rule of rules) {
    if (seen.has(rule.syscall)) throw new Error(`seccomp policy names ${rule.syscall} twice`);
    seen.add(rule.syscall);
  }
  return rules;
}

const CONSTANT = "(0x[0-9a-fA-F]+|\\d+)";

function parseCondition(args: readonly string[], condition: string): NonNullable<SeccompRule["when"]> {
  const argIndex = (name: string | undefined) => {
    const index = args.indexOf(name ?? "");
    if (index < 0) throw new Error(`unsupported seccomp condition: ${condition}`);
    return index;
  };
  const masked = new RegExp(`^\\((\\w+) & ${CONSTANT}\\) != 0$`).exec(condition);
  if (masked) return { arg: argIndex(masked[1]), test: { kind: "masked-nonzero", mask: word(masked[2]) } };
  const lowWord = new RegExp(`^\\((\\w+) & 0xffffffff\\) == ${CONSTANT}$`).exec(condition);
  if (lowWord) return { arg: argIndex(lowWord[1]), test: { kind: "low-word-equals", value: word(lowWord[2]) } };
  const atLeast = new RegExp(`^(\\w+) >= ${CONSTANT}$`).exec(condition);
  if (atLeast) return { arg: argIndex(atLeast[1]), test: { kind: "at-least", value: word(atLeast[2]) } };
  const unequal = condition.split(" && ").map((part) => new RegExp(`^(\\w+) != ${CONSTANT}$`).exec(part));
  const names = new Set(unequal.map((match) => match?.[1]));
  if (unequal.every((match) => match !== null) && names.size === 1) {
    return { arg: argIndex(unequal[0]?.[1]), test: { kind: "not-in", values: unequal.map((match) => word(match?.[2])) } };
  }
  throw new Error(`unsupported seccomp condition: ${condition}`);
}

/** A 32-bit constant: the children's BPF compares an argument's low word and its high word with zero. */
function word(literal: string | undefined): number {
  const value = Number(literal);
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new Error(`seccomp constant out of 32-bit range: ${literal}`);
  return value;
}

/** Kafel text of these rules, DEFAULT ALLOW, for nsjail's --seccomp_string. */
export function renderKafel(rules: readonly SeccompRule[]): string {
  const byErrno = new Map<number, string[]>();
  for (const rule of rules) {
    const entries = byErrno.get(rule.errno) ?? [];
    entries.push(
      rule.when === undefined ? rule.syscall : `${rule.syscall}(${argNames(rule.when.arg).join(", ")}) { ${testText(`a${rule.when.arg}`, rule.when.test)} }`,
    );
    byErrno.set(rule.errno, entries);
  }
  const blocks = [...byErrno].map(([errno, entries]) => `ERRNO(${errno}) { ${entries.join(", ")} }`);
  return [...blocks, "DEFAULT ALLOW"].join(" ");
}

const argNames = (last: number) => Array.from({ length: last + 1 }, (_, i) => `a${i}`);

function testText(arg: string, test: ArgumentTest): string {
  const hex = (value: number) => `0x${value.toString(16)}`;
  switch (test.kind) {
    case "masked-nonzero":
      return `(${arg} & ${hex(test.mask)}) != 0`;
    case "not-in":
      return test.values.map((value) => `${arg} != ${hex(value)}`).join(" && ");
    case "at-least":
      return `${arg} >= ${hex(test.value)}`;
    case "low-word-equals":
      return `(${arg} & 0xffffffff) == ${hex(test.value)}`;
  }
}

/** The rules without those for these syscalls (which must be among them). */
export function allowing(rules: readonly SeccompRule[], syscalls: readonly string[]): SeccompRule[] {
  for (const syscall of syscalls) {
    if (!rules.some((rule) => rule.syscall === syscall)) throw new Error(`the seccomp policy does not deny ${syscall}`);
  }
  return rules.filter((rule) => !syscalls.includes(rule.syscall));
}

export function childSeccompRules(rules: readonly SeccompRule[]): ChildSeccompRule[] {
  return rules.map((rule) => ({
    // parseSeccompPolicy admits only syscalls of the table.
    nr: X86_64_SYSCALLS[rule.syscall] ?? Number.NaN,
    errno: rule.errno,
    ...(rule.when === undefined ? {} : { arg: rule.when.arg, ...testFields(rule.when.test) }),
  }));
}

function testFields(test: ArgumentTest): Pick<ChildSeccompRule, "maskedNonZero" | "notIn" | "atLeast" | "lowWordEquals"> {
  switch (test.kind) {
    case "masked-nonzero":
      return { maskedNonZero: test.mask };
    case "not-in":
      return { notIn: test.values };
    case "at-least":
      return { atLeast: test.value };
    case "low-word-equals":
      return { lowWordEquals: test.value };
  }
}
