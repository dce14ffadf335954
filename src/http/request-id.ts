import { randomUUID } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { requestId } from "hono/request-id";

export const REQUEST_ID_HEADER = "X-Request-Id";
const MAX_REQUEST_ID_LENGTH = 128;

/** A caller's id is kept when it is 1-128 printable ASCII characters; anything else is replaced. */
export function acceptedRequestId(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const id = header.trim();
  return id.length > 0 && id.length <= MAX_REQUEST_ID_LENGTH && /^[\x20-\x7e]+$/.test(id) ? id : undefined;
}

/**
 * Gives every request an id, in `c.get("requestId")` and echoed in the `X-Request-Id` response
 * header: the caller's when it is acceptable, else a fresh UUID. Hono's middleware keeps an id of
 * word characters, `-` and `=` as it is and asks the generator for anything else, which keeps the
 * rest of what `acceptedRequestId` accepts (a trace context such as `trace/1;o=1`, padded ids).
 * Hono echoes the id only on responses made through the context; the error and result responses
 * of this app are plain `Response`s, so the header is set again once the response is there, on
 * the response's own headers: `c.header()` would rebuild a finished response, making
 * `@hono/node-server`'s lightweight one a full web `Response` whose body is then read as a stream.
 */
export function requestIds(): MiddlewareHandler {
  const assignId = requestId({
    headerName: REQUEST_ID_HEADER,
    limitLength: MAX_REQUEST_ID_LENGTH,
    generator: (c) => acceptedRequestId(c.req.header(REQUEST_ID_HEADER)) ?? randomUUID(),
  });
  return (c, next) =>
    assignId(c, async () => {
      await next();
      c.res.headers.set(REQUEST_ID_HEADER, c.get("requestId"));
    });
}
