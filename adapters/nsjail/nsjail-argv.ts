/**
 * Builds the command line of one nsjail run: the static policy comes from nsjail.cfg, and
 * what is only known at startup (where the interpreter and the virtualenv are, the harness)
 * or per request (time and memory limits) is added here as options after `--config`, which
 * nsjail applies on top of the file. Pure: no I/O, so every choice is unit-tested.
 *
 * Inside the jail the layout is fixed, whatever the host paths are:
 *   /sandbox/venv     the virtualenv (read-only)
 *   /sandbox/work     the per-run tmpfs work dir, cwd, HOME and TMPDIR (nsjail.cfg)
 *   /usr, /lib, /lib64 the system runtime (read-only, nsjail.cfg)
 */

export const JAIL_VENV_DIR = "/sandbox/venv";
export const JAIL_WORK_DIR = "/sandbox/work";

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
      /** Pre-existing parent group, relative to each mount (nsjail creates NSJAIL.<pid> in it). */
      readonly parent: string;
      /** memory.memsw.* exists, so swap can be forbidden. */
      readonly swapLimit: boolean;
    }
  | {
      readonly version: "v2";
      /** A cgroup2 directory whose cgroup.subtree_control has memory and pids (and cpu) enabled. */
      readonly mount: string;
      /** memory.swap.max exists in child groups, so swap can be forbidden. */
      readonly swapLimit: boolean;
      /** The cpu controller is enabled too, so a CPU quota can be set. */
      readonly cpu: boolean;
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
  /** The harness's source, run with `python -c`: the jail sees none of the server's files. */
  readonly harnessSource: string;
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
  /** Memory limit of the whole jail (all its processes), in MiB. */
  readonly memoryMb: number;
  /** Processes + threads in the jail (cgroup pids.max, and RLIMIT_NPROC as a backstop). Default 64. */
  readonly maxPids?: number;
  /**
   * Cores the jail may keep busy at once. With a cpu controller this becomes a CFS quota;
   * in any case it scales RLIMIT_CPU so that the CPU limit never fires before the wall
   * clock one (a SIGKILL from RLIMIT_CPU would look like an OOM kill). Default 1.
   */
  readonly cpuCores?: number;
  readonly cgroup: NsjailCgroupMode;
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
export const JAIL_UID = 65534;
const MIB = 1024 * 1024;
const DEFAULT_MAX_PIDS = 64;
const DEFAULT_LOG_FD = 4;
const DEFAULT_PASS_FDS = [3] as const;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Everything after the nsjail binary: options, `--`, then the jailed command. */
export function buildNsjailArgv(options: NsjailArgvOptions): string[] {
  validate(options);
  const maxPids = options.maxPids ?? DEFAULT_MAX_PIDS;
  const cpuCores = options.cpuCores ?? 1;
  const timeoutSeconds = Math.ceil(options.timeoutMs / 1000);
  const timeLimit = options.timeLimitSeconds ?? timeoutSeconds + 1;
  // Per process; with several busy threads a process gains CPU time faster than wall time.
  const cpuSeconds = timeoutSeconds * Math.ceil(cpuCores) + 2;

  const argv: string[] = [
    // Before --config, so that even a config that fails to parse logs to this fd.
    "--log_fd", String(options.logFd ?? DEFAULT_LOG_FD),
    "--config", options.configPath,
    "--time_limit", String(timeLimit),
    "--rlimit_cpu", String(cpuSeconds),
    "--rlimit_nproc", String(maxPids),
    "--user", `${JAIL_UID}:${options.outsideUid}:1`,
    "--group", `${JAIL_UID}:${options.outsideUid}:1`,
  ];

  if (options.venvDir !== undefined) {
    argv.push("--bindmount_ro", `${trimSlash(options.venvDir)}:${JAIL_VENV_DIR}`);
  }
  for (const dir of options.runtimeMounts ?? []) {
    argv.push("--bindmount_ro", `${trimSlash(dir)}:${trimSlash(dir)}`);
  }
  for (const fd of options.passFds ?? DEFAULT_PASS_FDS) {
    argv.push("--pass_fd", String(fd));
  }
  argv.push(...cgroupArgs(options.cgroup, options.memoryMb, maxPids, cpuCores));
  for (const [name, value] of Object.entries(options.env)) {
    argv.push("--env", `${name}=${value}`);
  }

  argv.push(
    "--",
    jailedPython(options),
    ...(options.pythonFlags ?? ["-u"]),
    "-c",
    options.harnessSource,
    ...(options.harnessArgs ?? []),
  );
  return argv;
}

function cgroupArgs(mode: NsjailCgroupMode, memoryMb: number, maxPids: number, cpuCores: number): string[] {
  const memoryBytes = String(memoryMb * MIB);
  const cpuMsPerSec = String(Math.round(cpuCores * 1000));
  switch (mode.version) {
    case "v1":
      return [
        "--cgroup_mem_mount", mode.memoryMount,
        "--cgroup_mem_parent", mode.parent,
        "--cgroup_mem_max", memoryBytes,
        // On v1 nsjail turns this into memory.memsw.limit_in_bytes = memory limit.
        ...(mode.swapLimit ? ["--cgroup_mem_swap_max", "0"] : []),
        "--cgroup_pids_mount", mode.pidsMount,
        "--cgroup_pids_parent", mode.parent,
        "--cgroup_pids_max", String(maxPids),
        ...(mode.cpuMount === undefined
          ? []
          : [
              "--cgroup_cpu_mount", mode.cpuMount,
              "--cgroup_cpu_parent", mode.parent,
              "--cgroup_cpu_ms_per_sec", cpuMsPerSec,
            ]),
      ];
    case "v2":
      return [
        "--use_cgroupv2",
        "--cgroupv2_mount", mode.mount,
        "--cgroup_mem_max", memoryBytes,
        ...(mode.swapLimit ? ["--cgroup_mem_swap_max", "0"] : []),
        "--cgroup_pids_max", String(maxPids),
        ...(mode.cpu ? ["--cgroup_cpu_ms_per_sec", cpuMsPerSec] : []),
      ];
    case "none":
      // Address-space cap instead: numpy + pandas need about 200 MiB of it just to import.
      return ["--rlimit_as", String(memoryMb)];
  }
}

/** The interpreter's path as seen from inside the jail. */
export function jailedPython(options: Pick<NsjailArgvOptions, "pythonExecutable" | "venvDir" | "runtimeMounts">): string {
  const python = options.pythonExecutable;
  if (options.venvDir !== undefined) {
    const venv = trimSlash(options.venvDir);
    if (python.startsWith(`${venv}/`)) return JAIL_VENV_DIR + python.slice(venv.length);
  }
  const visible = ["/usr", ...(options.runtimeMounts ?? []).map(trimSlash)];
  if (visible.some((dir) => python.startsWith(`${dir}/`))) return python;
  throw new Error(
    `python executable ${python} is not inside the venv, /usr or a runtime mount, so the jail cannot see it`,
  );
}

function validate(options: NsjailArgvOptions): void {
  const paths: Array<[string, string | undefined]> = [
    ["configPath", options.configPath],
    ["pythonExecutable", options.pythonExecutable],
    ["venvDir", options.venvDir],
    ...(options.runtimeMounts ?? []).map((dir): [string, string] => ["runtimeMounts", dir]),
  ];
  for (const [name, path] of paths) {
    if (path === undefined) continue;
    if (!path.startsWith("/")) throw new Error(`${name} must be an absolute path: ${path}`);
    // nsjail splits --bindmount_ro on ':' (src:dst); a ',' would end up in mount options.
    if (/[:,\n\0]/.test(path)) throw new Error(`${name} must not contain ':', ',' or control characters: ${path}`);
  }
  if (options.harnessSource.trim() === "" || options.harnessSource.includes("\0")) {
    throw new Error("harnessSource must be non-empty Python source without NUL bytes");
  }
  positiveInteger("timeoutMs", options.timeoutMs);
  positiveInteger("memoryMb", options.memoryMb);
  positiveInteger("maxPids", options.maxPids ?? DEFAULT_MAX_PIDS);
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
