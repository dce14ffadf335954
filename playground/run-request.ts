import type { ExecuteRequestBody } from "../openapi/schemas.js";

/** An input file as the request carries it. */
export type InputFile = NonNullable<ExecuteRequestBody["files"]>[number];

/** What the form holds, as typed. */
export interface RunForm {
  readonly script: string;
  /** JSON text of an object; blank for none. */
  readonly args: string;
  readonly files: readonly InputFile[];
  /** Blank for the server's default. */
  readonly timeoutMs: string;
  readonly memoryMb: string;
}

export type BuiltRequest =
  | { readonly ok: true; readonly body: ExecuteRequestBody }
  | { readonly ok: false; readonly field: "args" | "timeoutMs" | "memoryMb"; readonly message: string };

/**
 * The body of POST /execute for the form, or what is wrong with the form. Only what the page
 * itself must know is checked here (args must parse as JSON); the server checks the rest and
 * its answer is shown as any other.
 */
export function requestBody(form: RunForm): BuiltRequest {
  const body: ExecuteRequestBody = { script: form.script };
  if (form.args.trim() !== "") {
    let args: unknown;
    try {
      args = JSON.parse(form.args);
    } catch (error) {
      return { ok: false, field: "args", message: `args is not JSON: ${(error as Error).message}` };
    }
    if (args === null || typeof args !== "object" || Array.isArray(args)) {
      return { ok: false, field: "args", message: "args must be a JSON object: its keys are main()'s parameter names" };
    }
    body.args = args as Record<string, unknown>;
  }
  if (form.files.length > 0) body.files = [...form.files];
  for (const field of ["timeoutMs", "memoryMb"] as const) {
    const text = form[field].trim();
    if (text === "") continue;
    if (!/^\d+$/.test(text)) return { ok: false, field, message: `${field} must be a whole number` };
    body[field] = Number(text);
  }
  return { ok: true, body };
}

/**
 * A new Idempotency-Key: 128 random bits in hex. Not crypto.randomUUID(), which a page served over
 * plain http at a server's name (no secure context) does not have.
 */
export function newIdempotencyKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/**
 * The headers of POST /execute: JSON, the API key when one is given, and an Idempotency-Key of
 * the run's own (the draft's quoted form). Chromium sends a request again when it was answered
 * 408, as a TIMEOUT is, on a reused connection: with the key the server answers that resend with
 * the first answer instead of running the script again.
 */
export function requestHeaders(apiKey: string, idempotencyKey: string = newIdempotencyKey()): Record<string, string> {
  const headers: Record<string, string> = { "content-type": "application/json", "idempotency-key": `"${idempotencyKey}"` };
  const key = apiKey.trim();
  if (key !== "") headers.authorization = `Bearer ${key}`;
  return headers;
}
