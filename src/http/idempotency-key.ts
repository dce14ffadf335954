import { err, ok, type Result } from "../../domain/result.js";
import { IDEMPOTENCY_KEY_HEADER, MAX_IDEMPOTENCY_KEY_LENGTH } from "../../openapi/idempotency-key.js";

/** A bare key: visible ASCII without `"` or `\`. */
const BARE = /^[\x21\x23-\x5b\x5d-\x7e]+$/;
/** A structured-field string (RFC 8941 3.3.3): printable ASCII in quotes, `"` and `\` escaped by a backslash. */
const SF_STRING = /^"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"$/;

/** The key a header value spells, if it spells one. */
function keyIn(text: string): string | undefined {
  const quoted = SF_STRING.exec(text);
  if (quoted) return (quoted[1] ?? "").replace(/\\(["\\])/g, "$1");
  return BARE.test(text) ? text : undefined;
}

/**
 * The key an Idempotency-Key header value carries. The draft's form is a structured-field string,
 * `"8e03978e-…"`; a bare key of visible ASCII, as many clients send it, is taken too, and
 * `"abc"` and `abc` are the same key. A key is 1 to MAX_IDEMPOTENCY_KEY_LENGTH characters.
 */
export function idempotencyKeyOf(value: string): Result<string, string> {
  const key = keyIn(value.trim());
  const expected = `${IDEMPOTENCY_KEY_HEADER} must be a quoted string ("…") or a bare key of visible ASCII, 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`;
  if (key === undefined) return err(`${expected}; this one is not`);
  if (key.length === 0) return err(`${expected}; this one is empty`);
  if (key.length > MAX_IDEMPOTENCY_KEY_LENGTH) return err(`${expected}; this one has ${key.length}`);
  return ok(key);
}
