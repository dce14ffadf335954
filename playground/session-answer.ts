import type { ErrorBody, ExecuteSuccessBody } from "../openapi/schemas.js";
import { parseExact } from "./exact-json.js";

/** POST /sessions/{id}/execute's 200: /execute's body, with the kind of its result. */
export type CellSuccessBody = ExecuteSuccessBody & { readonly resultKind?: "json" | "repr" };

/** A session call's error body: /execute's, with whether the cell ended its session. */
export type CellFailureBody = ErrorBody;

/** What a cell's value is shown as. */
export type ResultView =
  /** Nothing to show: the cell ended with a statement, or its value was None. */
  | { readonly kind: "none" }
  /** The value's repr(), as the service made it: shown as text, not as a JSON string. */
  | { readonly kind: "repr"; readonly text: string }
  /** A JSON value, each number as the service spelled it (exact-json.ts). */
  | { readonly kind: "json"; readonly value: unknown };

/** An answer of POST /sessions/{id}/execute, read. */
export type CellOutcome =
  | { readonly kind: "ok"; readonly body: CellSuccessBody; readonly result: ResultView }
  | { readonly kind: "failed"; readonly body: CellFailureBody; readonly sessionEnded: boolean }
  /** 404 SESSION_NOT_FOUND: the session expired, was ended, or the server restarted; the cell did not run. */
  | { readonly kind: "session-gone"; readonly body: CellFailureBody }
  | { readonly kind: "not-json"; readonly status: number; readonly text: string };

export function readCellAnswer(status: number, text: string): CellOutcome {
  let body: CellSuccessBody | CellFailureBody;
  try {
    body = JSON.parse(text) as CellSuccessBody | CellFailureBody;
  } catch {
    return { kind: "not-json", status, text };
  }
  if (body === null || typeof body !== "object") return { kind: "not-json", status, text };
  if ("code" in body && typeof body.code === "string") {
    if (body.code === "SESSION_NOT_FOUND") return { kind: "session-gone", body };
    return { kind: "failed", body, sessionEnded: body.sessionEnded === true };
  }
  const success = body as CellSuccessBody;
  return { kind: "ok", body: success, result: resultView(success, text) };
}

function resultView(body: CellSuccessBody, text: string): ResultView {
  if (body.resultKind === "repr" && typeof body.result === "string") return { kind: "repr", text: body.result };
  if (body.result === null || body.result === undefined) return { kind: "none" };
  // The result as the service spelled it (big integers, 23.0), not as JSON.parse would round it.
  return { kind: "json", value: (parseExact(text) as { result: unknown }).result };
}

/** What a failed POST /sessions said, for people: the error, and for SESSION_LIMIT when to try again. */
export function startFailure(status: number, text: string, retryAfter: string | null): string {
  let error: string | undefined;
  let code: string | undefined;
  try {
    const body = JSON.parse(text) as Partial<ErrorBody>;
    if (typeof body.error === "string") error = body.error;
    if (typeof body.code === "string") code = body.code;
  } catch {
    // Not JSON: the status says what there is to say.
  }
  const what = code && error ? `${code}: ${error}` : (error ?? `HTTP ${status}`);
  const seconds = retryAfter !== null && /^\d+$/.test(retryAfter.trim()) ? Number(retryAfter) : undefined;
  return seconds === undefined ? what : `${what} (try again in ${seconds} s)`;
}
