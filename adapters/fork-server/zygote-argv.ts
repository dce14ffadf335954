/**
 * The command line of the fork server's jail: nsjail.cfg's jail (mounts, namespaces, rlimits,
 * environment), with these differences, all needed to build each run's own namespaces from
 * inside it (sandbox_harness/fork_server.py):
 *   - its user namespace maps 65534 (the zygote itself) to a host uid of its own, and the whole
 *     sandbox uid range to RUN_UID_BASE..., so that it can hand each run its own host uid;
 *   - it keeps CAP_SYS_ADMIN, CAP_SETUID, CAP_SETGID and CAP_KILL, in its own user namespace only;
 *   - its seccomp policy is nsjail.cfg's minus mount, umount, unshare and setns (given on the command
 *     line: `configPath` is nsjail.cfg without its seccomp_string lines); each run installs
 *     nsjail.cfg's whole policy again (`childSeccomp`) before the script runs;
 *   - /proc of its pid namespace and the host directory of the runs' sockets are mounted at
 *     ZYGOTE_PROC_DIR and ZYGOTE_CHANNELS_DIR; every run unmounts both before its script runs;
 *   - no time limit, no CPU limit and no process limit of its own (each run sets its own).
 * Pure: no I/O.
 */
import { MIB } from "../../domain/units.js";
import { harnessMountArgs, jailedPython, venvMountArgs } from "../nsjail/nsjail-argv.js";
import type { ChildSeccompRule } from "../nsjail/seccomp-policy.js";
import { harnessBootstrap, JAIL_HARNESS_DIR } from "../python/harness-package.js";
import { MAX_FILE_BYTES, MAX_OPEN_FILES } from "../run/run-limits.js";

export const ZYGOTE_CHANNELS_DIR = "/sandbox/channels";
export const ZYGOTE_PROC_DIR = "/sandbox/proc";
/** Inside the fork server's user namespace, host uid `first + i` of the sandbox range is RUN_UID_BASE + i. */
export const RUN_UID_BASE = 100_000;
/**
 * What the fork server's policy allows beyond a jail's: building each run's mounts and
 * namespaces, and returning to its own pid namespace after forking a child into a new one.
 */
export const ZYGOTE_ALLOWED_SYSCALLS = ["mount", "umount", "unshare", "setns"] as const;
// CAP_KILL: a run's process, once in a uid and user namespace of its own, is killed by its parent at the run's time limit.
const ZYGOTE_CAPABILITIES = ["CAP_SYS_ADMIN", "CAP_SETUID", "CAP_SETGID", "CAP_KILL"];
const ZYGOTE_UID = 65534;

export interface ZygoteArgvOptions {
  /** nsjail.cfg without its seccomp_string lines. */
  readonly configPath: string;
  readonly pythonExecutable: string;
  readonly venvDir: string;
  /** The directory holding the harness package (HarnessRuntime.harnessDir). */
  readonly harnessDir: string;
  /** What the fork server imports before it forks anything. */
  readonly preloadModules: readonly string[];
  readonly pythonFlags: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** The fork server's own host uid (and gid), outside the run range. */
  readonly zygoteUid: number;
  /** The host uids runs are given: `count` of them from `first`. */
  readonly runUids: { readonly first: number; readonly count: number };
  /** The host directory where the server listens for each run's connections. */
  readonly channelsDir: string;
  /** Kafel policy of the fork server itself. */
  readonly seccompPolicy: string;
  /** The policy each run installs before its script. */
  readonly childSeccomp: readonly ChildSeccompRule[];
  readonly logFd: number;
  readonly resultFd: number;
}

/** A host uid of the sandbox range as the fork server's user namespace names it. */
export function insideUid(hostUid: number, runUids: ZygoteArgvOptions["runUids"]): number {
  const offset = hostUid - runUids.first;
  if (!Number.isInteger(offset) || offset < 0 || offset >= runUids.count) {
    throw new Error(`uid ${hostUid} is outside the sandbox range ${runUids.first}+${runUids.count}`);
  }
  return RUN_UID_BASE + offset;
}

export function buildZygoteArgv(options: ZygoteArgvOptions): string[] {
  validate(options);
  const { first, count } = options.runUids;
  const ids = (flag: string) => [flag, `${ZYGOTE_UID}:${options.zygoteUid}:1`, flag, `${RUN_UID_BASE}:${first}:${count}`];
  const argv = [
    "--log_fd",
    String(options.logFd),
    "--config",
    options.configPath,
    "--time_limit",
    "0",
    "--rlimit_cpu",
    "inf",
    "--rlimit_nproc",
    "max",
    // The limits every run has, as a jail per run gets them (nsjail-argv.ts); the children inherit them.
    "--rlimit_nofile",
    String(MAX_OPEN_FILES),
    "--rlimit_fsize",
    String(MAX_FILE_BYTES / MIB),
    ...ids("--user"),
    ...ids("--group"),
    ...ZYGOTE_CAPABILITIES.flatMap((cap) => ["--cap", cap]),
    ...venvMountArgs(options.venvDir, options.pythonExecutable),
    ...harnessMountArgs(options.harnessDir),
    "--bindmount_ro",
    `${options.channelsDir}:${ZYGOTE_CHANNELS_DIR}`,
    "--mount",
    `none:${ZYGOTE_PROC_DIR}:proc:rw`,
    "--seccomp_string",
    options.seccompPolicy,
    "--pass_fd",
    String(options.resultFd),
  ];
  for (const [name, value] of Object.entries(options.env)) argv.push("--env", `${name}=${value}`);
  argv.push(
    "--",
    jailedPython({ pythonExecutable: options.pythonExecutable, venvDir: options.venvDir }),
    ...options.pythonFlags,
    "-c",
    harnessBootstrap(JAIL_HARNESS_DIR, "fork_server"),
    "--preload",
    options.preloadModules.join(","),
    "--result-fd",
    String(options.resultFd),
    "--channels",
    ZYGOTE_CHANNELS_DIR,
    "--proc",
    ZYGOTE_PROC_DIR,
    "--child-seccomp",
    JSON.stringify(options.childSeccomp),
  );
  return argv;
}

function validate(options: ZygoteArgvOptions): void {
  for (const [name, path] of [
    ["configPath", options.configPath],
    ["venvDir", options.venvDir],
    ["harnessDir", options.harnessDir],
    ["channelsDir", options.channelsDir],
  ] as const) {
    if (!path.startsWith("/") || /[:,\n\0]/.test(path)) throw new Error(`${name} must be an absolute path without ':', ',' or control characters: ${path}`);
  }
  const { first, count } = options.runUids;
  for (const [name, value] of [
    ["zygoteUid", options.zygoteUid],
    ["runUids.first", first],
    ["runUids.count", count],
  ] as const) {
    if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer: ${value}`);
  }
  if (options.zygoteUid >= first && options.zygoteUid < first + count) {
    throw new Error(`the fork server's uid ${options.zygoteUid} must not be one its runs can be given`);
  }
  if (options.preloadModules.some((name) => !/^[A-Za-z_][A-Za-z0-9_.]*$/.test(name))) throw new Error(`not module names: ${options.preloadModules.join(",")}`);
  if (options.resultFd < 3 || options.logFd < 3 || options.resultFd === options.logFd) throw new Error("the result and log fds must be distinct and >= 3");
}
