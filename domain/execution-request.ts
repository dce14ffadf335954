/** A script to run, with the limits that apply to this one run. */
export interface ExecutionRequest {
  readonly script: string;
  readonly timeoutMs: number;
  readonly memoryMb: number;
}

/** The least memory a run may ask for: below it the interpreter cannot even start. */
export const MIN_MEMORY_MB = 32;
