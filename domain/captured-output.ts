/** What a script wrote to stdout and stderr, each capped; a flag says a stream was cut. */
export interface CapturedOutput {
  readonly stdout: string;
  readonly stderr: string;
  readonly stdoutTruncated: boolean;
  readonly stderrTruncated: boolean;
}

export const NO_OUTPUT: CapturedOutput = { stdout: "", stderr: "", stdoutTruncated: false, stderrTruncated: false };
