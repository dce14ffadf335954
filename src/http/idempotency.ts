import { createHash } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { IDEMPOTENCY_KEY_HEADER, IDEMPOTENT_REPLAYED_HEADER } from "../../openapi/idempotency-key.js";
import { STATUS_BY_CODE } from "../../openapi/status-by-code.js";
import { bearerToken } from "./auth.js";
import { idempotencyKeyOf } from "./idempotency-key.js";
import type { IdempotencyStore, RememberedAnswer } from "./idempotency-store.js";
import { REQUEST_ID_HEADER } from "./request-id.js";
import { errorResponse } from "./responses.js";
import { setSharedRunSignal } from "./run-signal.js";

/**
 * How a request with an Idempotency-Key was answered: it ran ("first"), it got the answer of the
 * first one ("replayed"), it waited for the first one, still running, and got its answer
 * ("waited"), or its body was not the first one's ("refused").
 */
export type IdempotentOutcome = "first" | "replayed" | "waited" | "refused";

/** A request with an Idempotency-Key (never with the key: it is the client's). */
export interface IdempotentRequest {
  readonly requestId: string;
  readonly outcome: IdempotentOutcome;
  /** The request that ran, for a repeat. */
  readonly firstRequestId?: string;
}

/**
 * Answers that ask for the request to be sent again, so a repeat runs anew instead of getting
 * them: BUSY (it did not run), CANCELLED (every client of the run had gone), and any fault of the
 * server's (5xx: SANDBOX_UNAVAILABLE, a shutdown, INTERNAL).
 */
const remembered = (status: number): boolean => status < 500 && status !== STATUS_BY_CODE.BUSY && status !== STATUS_BY_CODE.CANCELLED;

/** Each request's own header, set for the repeat too (request-id.ts). */
const PER_REQUEST_HEADERS: ReadonlySet<string> = new Set([REQUEST_ID_HEADER.toLowerCase()]);

const sha256 = (text: string): string => createHash("sha256").update(text, "utf8").digest("hex");

/**
 * Whose keys a request's are: those of the API key it came with (with API_KEYS set, it got past
 * auth with it), as a digest, so that no client can be given another one's answer.
 */
const scopeOf = (authorization: string | undefined): string => {
  const token = bearerToken(authorization);
  return token === undefined ? "" : sha256(token);
};

async function answerOf(response: Response): Promise<RememberedAnswer> {
  const headers = [...response.headers].filter(([name]) => !PER_REQUEST_HEADERS.has(name));
  return { status: response.status, headers, body: new Uint8Array(await response.arrayBuffer()) };
}

function responseOf(answer: RememberedAnswer, replayed: boolean): Response {
  const response = new Response(answer.body as Uint8Array<ArrayBuffer>, { status: answer.status, headers: answer.headers as [string, string][] });
  if (replayed) response.headers.set(IDEMPOTENT_REPLAYED_HEADER, "true");
  return response;
}

/**
 * Makes a POST safe to send again (the IETF httpapi draft "The Idempotency-Key HTTP Header
 * Field"): POST /execute, POST /sessions and a session's cell. A request with a key runs once, and
 * a repeat with the same key, path and body (and API key) gets its answer, waiting for it while
 * it runs. The run is stopped only when every request waiting for it has lost its client. The
 * same key with another path or body is refused (422). Goes after auth and the body checks, which
 * it needs; a request without the header passes untouched.
 */
export function idempotentExecutions(store: IdempotencyStore, onIdempotentRequest: (request: IdempotentRequest) => void = () => {}): MiddlewareHandler {
  return async (c, next) => {
    const header = c.req.header(IDEMPOTENCY_KEY_HEADER);
    if (header === undefined) return next();
    const key = idempotencyKeyOf(header);
    if (!key.ok) return errorResponse("INVALID_REQUEST", key.error);
    const requestId = c.get("requestId");
    const request = `${c.req.method} ${c.req.path}\n${await c.req.text()}`;
    const claim = store.claim(key.value, sha256(request), requestId, scopeOf(c.req.header("authorization")));
    switch (claim.kind) {
      case "mismatch":
        onIdempotentRequest({ requestId, outcome: "refused", firstRequestId: claim.firstRequestId });
        return errorResponse(
          "IDEMPOTENCY_KEY_REUSED",
          `${IDEMPOTENCY_KEY_HEADER} "${key.value}" was already used with another request (path or body): a key stands for one request; send a new key with a new request`,
        );
      case "answered":
        onIdempotentRequest({ requestId, outcome: "replayed", firstRequestId: claim.firstRequestId });
        return responseOf(claim.answer, true);
      case "running":
        claim.run.join(c.req.raw.signal);
        onIdempotentRequest({ requestId, outcome: "waited", firstRequestId: claim.firstRequestId });
        return responseOf(await claim.answer, true);
      case "first": {
        claim.run.join(c.req.raw.signal);
        setSharedRunSignal(c, claim.run.signal);
        let answer: RememberedAnswer;
        try {
          await next();
          answer = await answerOf(c.res);
        } catch (error) {
          claim.fail(error);
          throw error;
        }
        claim.settle(answer, remembered(answer.status));
        onIdempotentRequest({ requestId, outcome: "first" });
        // Its body was read to be remembered.
        c.res = responseOf(answer, false);
        return;
      }
    }
  };
}
