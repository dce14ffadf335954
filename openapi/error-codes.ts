import { FAILURE_CODES, type FailureCode } from "../domain/failure-code.js";

/** Codes only the HTTP edge answers with: the request never became an execution (INVALID_REQUEST, shared with the sandbox, is the domain's). */
const HTTP_ERROR_CODES = ["UNSUPPORTED_MEDIA_TYPE", "PAYLOAD_TOO_LARGE", "UNAUTHORIZED", "IDEMPOTENCY_KEY_REUSED", "NOT_FOUND", "METHOD_NOT_ALLOWED"] as const;

type HttpErrorCode = (typeof HTTP_ERROR_CODES)[number];

/** Every `code` an error body can carry: the edge's and the domain's failures. */
export const ERROR_CODES = [...HTTP_ERROR_CODES, ...FAILURE_CODES] as const;

export type ErrorCode = HttpErrorCode | FailureCode;

/** Codes that answer a path or a method no operation has, so no operation documents them. */
export const ROUTING_ERROR_CODES: readonly ErrorCode[] = ["NOT_FOUND", "METHOD_NOT_ALLOWED"];
