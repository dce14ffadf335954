/**
 * The limits every backend gives a run besides its memory and time, the same in a jail and in a
 * subprocess: nsjail gets them on its command line (nsjail-argv.ts), the subprocess harness sets
 * them on itself (sandbox_harness/limits.py), and the nsjail backend's cgroup pids.max is derived from the first.
 */
import { MIB } from "../../domain/units.js";

/** Processes and threads of one run. */
export const MAX_PROCESSES = 64;
/**
 * RLIMIT_NPROC where a cgroup's pids.max (MAX_PROCESSES, plus the sandbox's own supervisor) is
 * the limit a fork bomb meets: RLIMIT_NPROC is checked first and counts the uid's processes
 * host-wide, a previous run's not yet reaped included, so it stays well above as a backstop.
 */
export const MAX_PROCESSES_BACKSTOP = 2 * MAX_PROCESSES + 2;
/** Open file descriptors of each process of a run. */
export const MAX_OPEN_FILES = 256;
/** The largest file a run's process may write (RLIMIT_FSIZE). */
export const MAX_FILE_BYTES = 64 * MIB;

/** RLIMIT_CPU of a run, in seconds: never before its wall-clock limit. */
export const cpuSecondsFor = (timeoutMs: number): number => Math.ceil(timeoutMs / 1000) + 1;
