/** What the playground needs of a failure body to find where the script failed. */
export interface FailureLocation {
  readonly code: string;
  readonly error: string;
  readonly traceback?: string;
}

const SCRIPT_FRAME = /File "script\.py", line (\d+)/g;
const SYNTAX_ERROR_LINE = /\(script\.py, line (\d+)/;

/**
 * The line of the script where it failed: the innermost frame in script.py of the traceback
 * (frames further in belong to libraries the script called), else, for a syntax error, the line
 * its message names. Undefined when the failure has no place in the script (a timeout, a result
 * that is not JSON).
 */
export function failingLine(failure: FailureLocation): number | undefined {
  const frames = [...(failure.traceback ?? "").matchAll(SCRIPT_FRAME)];
  const innermost = frames.at(-1);
  if (innermost) return Number(innermost[1]);
  if (failure.code !== "SYNTAX_ERROR") return undefined;
  const named = SYNTAX_ERROR_LINE.exec(failure.error);
  return named ? Number(named[1]) : undefined;
}
