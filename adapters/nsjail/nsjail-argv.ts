import { MIB } from "../../domain/units.js";
import { harnessBootstrap, JAIL_HARNESS_DIR } from "../python/harness-package.js";
import { SANDBOX_LOG_FD } from "../python/harness-process.js";
import { RESULT_FD } from "../python/protocol-facts.js";
import { MAX_FILE_BYTES, MAX_OPEN_FILES, MAX_PROCESSES } from "../run/run-limits.js";

/**
 * Builds the command line of one nsjail run: the static policy comes from nsjail.cfg, and
 * what is only known at startup (where the interpreter, the virtualenv and the harness are)
 * or per request (time and memory limits) is added here as options after `--config`, which
 * nsjail applies on top of the file. Pure: no I/O, so every choice is unit-tested.
 *
 * Inside the jail the layout is fixed, whatever the host paths are:
 *   /sandbox/venv     the virtualenv's lib/ and pyvenv.cfg, and its interpreter as bin/python3 (read-only)
 *   /sandbox/harness  the harness package (harness-package.ts, read-only)
 *   /sandbox/work     the per-run tmpfs work dir, cwd, HOME and TMPDIR (nsjail.cfg)
 *   /sandbox/cache    a small per-run tmpfs for libraries' caches, outside the work dir (nsjail.cfg)
 *   /usr, /lib, /lib64 the system runtime (read-only, nsjail.cfg)
 */

export const JAIL_VENV_DIR = "/sandbox/venv";
/** The names the interpreter has in the jail's /sandbox/venv/bin (the jail's PATH). */
const JAIL_PYTHON_NAMES = ["python", "python3"] as const;
export const JAIL_CACHE_DIR = "/sandbox/cache";

/** How the jail's memory, process-count (and optionally CPU) limits are enforced. */
export type NsjailCgroupMode =
  | {
      readonly version: "v1";
      /** Mount point of the v1 memory controller, e.g. /sys/fs/cgroup/memory. */
      readonly memoryMount: string;
      /** Mount point of the v1 pids controller, e.g. /sys/fs/cgroup/pids. */
      readonly pidsMount: string;
      /** Mount point of the v1 cpu controller; set only when a CPU quota is wanted and usable. */
      readonly cpuMount?: string;
      /** Mount point of the v1 blkio controller; set only when it is usable (IO throttling). */
      readonly blkioMount?: string;
      /** Parent group, relative to each mount, that holds the slot groups (cgroup-slots.ts). */
      readonly parent: string;
      /** memory.memsw.* exists, so swap can be forbidden. */
      readonly swapLimit: boolean;
    }
  | {
      readonly version: "v2";
      /** A cgroup2 directory whose cgroup.subtree_control has memory and pids (and cpu, io) enabled. */
      readonly mount: string;
      /** memory.swap.max exists in child groups, so swap can be forbidden. */
      readonly swapLimit: boolean;
      /** The cpu controller is enabled too, so a CPU quota can be set. */
      readonly cpu: boolean;
      /** The io controller is enabled too, so block IO can be throttled. */
      readonly io: boolean;
    }
  /** No usable cgroups: RLIMIT_AS and RLIMIT_NPROC only (degraded; MemoryError instead of a kill). */
  | { readonly version: "none" };

export interface NsjailArgvOptions {
  /** Path of nsjail.cfg on the host. */
  readonly configPath: string;
  /** The interpreter on the host: inside venvDir (mapped to /sandbox/venv), or under /usr or a runtimeMount. */
  readonly pythonExecutable: string;
  /** The virtualenv on the host; mounted read-only at /sandbox/venv. */
  readonly venvDir?: string;
  /** The directory holding the harness package (HarnessRuntime.harnessDir); mounted read-only at JAIL_HARNESS_DIR. */
  readonly harnessDir: string;
  /**
   * Extra host directories bound read-only at the same path, for an interpreter that lives
   * outside /usr (e.g. /opt/python3.11, the base of a venv made from it).
   */
  readonly runtimeMounts?: readonly string[];
  /** Interpreter flags before `-c`. Default ["-u"]. */
  readonly pythonFlags?: readonly string[];
  /** The script's whole environment (nsjail passes nothing else: keep_env is false). */
  readonly env: Readonly<Record<string, string>>;
  /** The run's wall-clock limit; the server's own timer should fire at exactly this. */
  readonly timeoutMs: number;
  /**
   * Set only where no cgroup limits the jail's memory (cgroup-slots.ts does that): an
   * address-space limit in MiB instead, a degraded stand-in (MemoryError rather than a kill).
   */
  readonly addressSpaceLimitMb?: number;
  /** Processes + threads per uid in the jail (RLIMIT_NPROC; the cgroup's pids.max is the real limit). Default MAX_PROCESSES. */
  readonly maxPids?: number;
  /**
   * Cores the jail may keep busy at once: scales RLIMIT_CPU so that the CPU limit never
   * fires before the wall-clock one. Default 1.
   */
  readonly cpuCores?: number;
  /** nsjail writes its own log here, never to the script's stdout/stderr. Default 4. */
  readonly logFd?: number;
  /** Descriptors passed into the jail besides 0/1/2: the result channel. Default [3]. */
  readonly passFds?: readonly number[];
  /**
   * nsjail's own wall-clock backstop, in whole seconds, counted from the jail's start
   * (0 = none). Default: the timeout rounded up, plus 1 s, so the server's timer fires first.
   * A pre-started (pooled) jail must add its idle time, or pass 0 and rely on the server.
   */
  readonly timeLimitSeconds?: number;
  /** The unprivileged host uid (and gid) the jail's user 65534 maps to; one per live jail. */
  readonly outsideUid: number;
  /** The harness's arguments. */
  readonly harnessArgs?: readonly string[];
}

/** nobody, inside the jail. */
const JAIL_UID = 65534;
const DEFAULT_LOG_FD = SANDBOX_LOG_FD;
const DEFAULT_PASS_FDS = [RESULT_FD] as const;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Everything after the nsjail binary: options, `--`, then the jailed command. */
export function buildNsjailArgv(options: NsjailArgvOptions): string[] {
  validate(options);
  const maxPids = options.maxPids ?? MAX_PROCESSES;
  const cpuCores = options.cpuCores ?? 1;
  const timeoutSeconds = Math.ceil(options.timeoutMs / 1000);
  const timeLimit = options.timeLimitSeconds ?? timeoutSeconds + 1;
  // Per process; with several busy threads a process gains CPU time faster than wall time.
  const cpuSeconds = timeoutSeconds * Math.ceil(cpuCores) + 2;

  const argv: string[] = [
    // Before --config, so that even a config that fails to parse logs to this fd.
    "--log_fd",
    String(options.logFd ?? DEFAULT_LOG_FD),
    "--config",
    options.configPath,
    "--time_limit",
    String(timeLimit),
    "--rlimit_cpu",
    String(cpuSeconds),
    "--rlimit_nproc",
    String(maxPids),
    "--rlimit_nofile",
    String(MAX_OPEN_FILES),
    "--rlimit_fsize",
    String(MAX_FILE_BYTES / MIB),
    "--user",
    `${JAIL_UID}:${options.outsideUid}:1`,
    "--group",
    `${JAIL_UID}:${options.outsideUid}:1`,
  ];

  if (options.venvDir !== undefined) argv.push(...venvMountArgs(options.venvDir, options.pythonExecutable));
  argv.push(...harnessMountArgs(options.harnessDir));
  for (const dir of options.runtimeMounts ?? []) {
    argv.push("--bindmount_ro", `${trimSlash(dir)}:${trimSlash(dir)}`);
  }
  for (const fd of options.passFds ?? DEFAULT_PASS_FDS) {
    argv.push("--pass_fd", String(fd));
  }
  if (options.addressSpaceLimitMb !== undefined) {
    // numpy + pandas need about 200 MiB of address space just to import.
    argv.push("--rlimit_as", String(options.addressSpaceLimitMb));
  }
  for (const [name, value] of Object.entries(options.env)) {
    argv.push("--env", `${name}=${value}`);
  }

  argv.push("--", jailedPython(options), ...(options.pythonFlags ?? ["-u"]), "-c", harnessBootstrap(JAIL_HARNESS_DIR, "serve"), ...(options.harnessArgs ?? []));
  return argv;
}

/** The virtualenv's bind mounts: only what the interpreter needs, not bin/, whose scripts name the venv's host path. */
export function venvMountArgs(venvDir: string, pythonExecutable: string): string[] {
  const venv = trimSlash(venvDir);
  const args = ["--bindmount_ro", `${venv}/lib:${JAIL_VENV_DIR}/lib`, "--bindmount_ro", `${venv}/pyvenv.cfg:${JAIL_VENV_DIR}/pyvenv.cfg`];
  if (pythonExecutable.startsWith(`${venv}/bin/`)) {
    // The venv's python is a symlink to the system interpreter; binding it binds that file.
    for (const name of JAIL_PYTHON_NAMES) args.push("--bindmount_ro", `${pythonExecutable}:${JAIL_VENV_DIR}/bin/${name}`);
  }
  return args;
}

/** The harness package's directory, read-only at JAIL_HARNESS_DIR. */
export const harnessMountArgs = (harnessDir: string): string[] => ["--bindmount_ro", `${trimSlash(harnessDir)}:${JAIL_HARNESS_DIR}`];

/** The interpreter's path as seen from inside the jail. */
export function jailedPython(options: Pick<NsjailArgvOptions, "pythonExecutable" | "venvDir" | "runtimeMounts">): string {
  const python = options.pythonExecutable;
  if (options.venvDir !== undefined && python.startsWith(`${trimSlash(options.venvDir)}/bin/`)) return `${JAIL_VENV_DIR}/bin/python3`;
  const visible = ["/usr", ...(options.runtimeMounts ?? []).map(trimSlash)];
  if (visible.some((dir) => python.startsWith(`${dir}/`))) return python;
  throw new Error(`python executable ${python} is not inside the venv, /usr or a runtime mount, so the jail cannot see it`);
}

function validate(options: NsjailArgvOptions): void {
  const paths: Array<[string, string | undefined]> = [
    ["configPath", options.configPath],
    ["pythonExecutable", options.pythonExecutable],
    ["venvDir", options.venvDir],
    ["harnessDir", options.harnessDir],
    ...(options.runtimeMounts ?? []).map((dir): [string, string] => ["runtimeMounts", dir]),
  ];
  for (const [name, path] of paths) {
    if (path === undefined) continue;
    if (!path.startsWith("/")) throw new Error(`${name} must be an absolute path: ${path}`);
    // nsjail splits --bindmount_ro on ':' (src:dst); a ',' would end up in mount options.
    if (/[:,\n\0]/.test(path)) throw new Error(`${name} must not contain ':', ',' or control characters: ${path}`);
  }
  positiveInteger("timeoutMs", options.timeoutMs);
  if (options.addressSpaceLimitMb !== undefined) positiveInteger("addressSpaceLimitMb", options.addressSpaceLimitMb);
  positiveInteger("maxPids", options.maxPids ?? MAX_PROCESSES);
  positiveInteger("outsideUid", options.outsideUid);
  if (options.cpuCores !== undefined && !(options.cpuCores > 0 && Number.isFinite(options.cpuCores))) {
    throw new Error(`cpuCores must be a positive number: ${options.cpuCores}`);
  }
  if (options.timeLimitSeconds !== undefined) {
    if (!Number.isInteger(options.timeLimitSeconds) || options.timeLimitSeconds < 0) {
      throw new Error(`timeLimitSeconds must be a non-negative integer: ${options.timeLimitSeconds}`);
    }
  }
  for (const fd of [options.logFd ?? DEFAULT_LOG_FD, ...(options.passFds ?? DEFAULT_PASS_FDS)]) {
    if (!Number.isInteger(fd) || fd < 3) throw new Error(`file descriptors must be integers >= 3: ${fd}`);
  }
  if ((options.passFds ?? DEFAULT_PASS_FDS).includes(options.logFd ?? DEFAULT_LOG_FD)) {
    throw new Error("the log fd must not be passed into the jail");
  }
  for (const [name, value] of Object.entries(options.env)) {
    if (!ENV_NAME.test(name)) throw new Error(`invalid environment variable name: ${name}`);
    if (value.includes("\0")) throw new Error(`environment variable ${name} contains a NUL byte`);
  }
}

function positiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer: ${value}`);
}

function trimSlash(path: string): string {
  return path.length > 1 ? path.replace(/\/+$/, "") : path;
}
