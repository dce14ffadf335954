/** Codes the harness reports from inside the sandbox about the script's own run. */
export const REPORTED_FAILURE_CODES = [
  // Also the HTTP edge's, for a body it refuses; here for input files the sandbox could not write.
  "INVALID_REQUEST",
  "SYNTAX_ERROR",
  "INVALID_ARGS",
  "MAIN_NOT_FOUND",
  "RUNTIME_ERROR",
  "RESULT_NOT_JSON",
  "RESULT_TOO_LARGE",
  "SCRIPT_EXITED",
  "MEMORY_LIMIT_EXCEEDED",
  "RESOURCE_LIMIT_EXCEEDED",
  // A session's cell interrupted at its time limit (a one-shot run's TIMEOUT is the server's own).
  "TIMEOUT",
] as const;

/** Stable machine codes of every way an execution can fail once it reaches the use case. */
export const FAILURE_CODES = [
  ...REPORTED_FAILURE_CODES,
  "BUSY",
  "SANDBOX_UNAVAILABLE",
  "CANCELLED",
  "INTERNAL",
  "SESSION_NOT_FOUND",
  "SESSION_BUSY",
  "SESSION_LIMIT",
] as const;

export type FailureCode = (typeof FAILURE_CODES)[number];

/**
 * Codes a sandbox run itself can end with (the rest belong to the HTTP edge or the queue).
 * INVALID_REQUEST only for an input file the server accepted but the sandbox could not write.
 */
export type ScriptFailureCode = (typeof REPORTED_FAILURE_CODES)[number] | "SANDBOX_UNAVAILABLE";
