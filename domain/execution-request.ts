/** A file the client hands a run, written into its work dir before the script starts. */
export interface InputFile {
  /** A safe path relative to the work dir (see input-files.ts). */
  readonly path: string;
  readonly content: string;
  readonly encoding: "utf-8" | "base64";
}

/**
 * What of the script gives the run's result. "main": main(), called after the top level (a
 * script without one is MAIN_NOT_FOUND). "cell": as a notebook cell's, the value of the top
 * level's last expression statement (main() is never called). "main-or-cell": main() when the
 * top level defines one, else as a cell.
 */
export type EntryMode = "main" | "main-or-cell" | "cell";

/** A script to run, with the limits that apply to this one run. */
export interface ExecutionRequest {
  readonly script: string;
  /** Absent: "main". */
  readonly entry?: EntryMode;
  readonly timeoutMs: number;
  readonly memoryMb: number;
  /**
   * The JSON object main() is called with as keyword arguments, as the exact JSON text the
   * client sent (so numbers keep their spelling); absent, main() is called with none.
   */
  readonly argsJson?: string;
  readonly files?: readonly InputFile[];
  /**
   * Aborted when whoever asked has gone (the client closed its connection): a request still
   * waiting leaves the queue, and a run is stopped as at its time limit.
   */
  readonly signal?: AbortSignal;
}

/** The least memory a run may ask for: below it the interpreter cannot even start. */
export const MIN_MEMORY_MB = 32;
