import type { ErrorCode } from "./error-codes.js";

/** The one place error codes become HTTP statuses. */
export const STATUS_BY_CODE = {
  INVALID_REQUEST: 400,
  UNSUPPORTED_MEDIA_TYPE: 415,
  PAYLOAD_TOO_LARGE: 413,
  UNAUTHORIZED: 401,
  // The IETF draft's status for a key sent again with another request payload.
  IDEMPOTENCY_KEY_REUSED: 422,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
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
  BUSY: 429,
  SANDBOX_UNAVAILABLE: 503,
  // No client reads it (it has gone); logs and metrics do. The status is nginx's for the same case.
  CANCELLED: 499,
  INTERNAL: 500,
  SESSION_NOT_FOUND: 404,
  // Cells of one session never overlap.
  SESSION_BUSY: 409,
  SESSION_LIMIT: 429,
} as const satisfies Record<ErrorCode, number>;
