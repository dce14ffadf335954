/** A file the client hands a run, written into its work dir before the script starts. */
export interface InputFile {
  /** A safe path relative to the work dir (see input-files.ts). */
  readonly path: string;
  readonly content: string;
  readonly encoding: "utf-8" | "base64";
}

/** A script to run, with the limits that apply to this one run. */
export interface ExecutionRequest {
  readonly script: string;
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
