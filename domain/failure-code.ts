/** Stable machine codes of every way an execution can fail once it reaches the use case. */
export const FAILURE_CODES = [
  "SYNTAX_ERROR",
  "MAIN_NOT_FOUND",
  "RUNTIME_ERROR",
  "RESULT_NOT_JSON",
  "RESULT_TOO_LARGE",
  "SCRIPT_EXITED",
  "MEMORY_LIMIT_EXCEEDED",
  "RESOURCE_LIMIT_EXCEEDED",
  "TIMEOUT",
  "BUSY",
  "SANDBOX_UNAVAILABLE",
  "INTERNAL",
] as const;

export type FailureCode = (typeof FAILURE_CODES)[number];

/** Codes a sandbox run itself can end with (BUSY belongs to admission, INTERNAL to a bug). */
export type ScriptFailureCode = Exclude<FailureCode, "BUSY" | "INTERNAL">;
