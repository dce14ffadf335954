/** The request header of the IETF httpapi draft "The Idempotency-Key HTTP Header Field". */
export const IDEMPOTENCY_KEY_HEADER = "Idempotency-Key";

/** The longest key accepted, in characters: room for a UUID (36) and for any client's own scheme. */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

/** Set to `true` on an answer that was given before, to the first request with the same key. */
export const IDEMPOTENT_REPLAYED_HEADER = "Idempotent-Replayed";
