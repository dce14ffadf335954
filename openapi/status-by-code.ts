import type { FailureCode } from "../domain/failure-code.js";

/** The one place failure codes become HTTP statuses. */
export const STATUS_BY_CODE = {
  INVALID_REQUEST: 400,
  UNSUPPORTED_MEDIA_TYPE: 415,
  PAYLOAD_TOO_LARGE: 413,
  SYNTAX_ERROR: 400,
  INVALID_ARGS: 400,
  MAIN_NOT_FOUND: 400,
  RUNTIME_ERROR: 400,
  RESULT_NOT_JSON: 400,
  RESULT_TOO_LARGE: 400,
  SCRIPT_EXITED: 400,
  MEMORY_LIMIT_EXCEEDED: 400,
  RESOURCE_LIMIT_EXCEEDED: 400,
  TIMEOUT: 408,
  UNAUTHORIZED: 401,
  BUSY: 429,
  SANDBOX_UNAVAILABLE: 503,
  INTERNAL: 500,
} as const satisfies Record<FailureCode, number>;

export type ErrorStatus = (typeof STATUS_BY_CODE)[FailureCode];
