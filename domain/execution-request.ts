/** A script to run, with the limits that apply to this one run. */
export interface ExecutionRequest {
  readonly script: string;
  readonly timeoutMs: number;
  readonly memoryMb: number;
}
