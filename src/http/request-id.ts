import { randomUUID } from "node:crypto";
import type { MiddlewareHandler } from "hono";

declare module "hono" {
  interface ContextVariableMap {
    requestId: string;
  }
}

export const REQUEST_ID_HEADER = "X-Request-Id";
const MAX_REQUEST_ID_LENGTH = 128;

/** A caller's id is kept when it is 1-128 printable ASCII characters; anything else is replaced. */
export function acceptedRequestId(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const id = header.trim();
  return id.length > 0 && id.length <= MAX_REQUEST_ID_LENGTH && /^[\x20-\x7e]+$/.test(id) ? id : undefined;
}

/** What one finished HTTP request looks like in the log. */
export interface RequestLogEntry {
  readonly requestId: string;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly durationMs: number;
}

/**
 * Gives every request an id: the caller's `X-Request-Id` when it is acceptable, else a fresh
 * UUID. The id is in `c.get("requestId")` for the handlers and echoed in the response header.
 */
export function requestId(options: { onResponse?: (entry: RequestLogEntry) => void; generate?: () => string } = {}): MiddlewareHandler {
  const generate = options.generate ?? randomUUID;
  return async (c, next) => {
    const startedAt = performance.now();
    const id = acceptedRequestId(c.req.header(REQUEST_ID_HEADER)) ?? generate();
    c.set("requestId", id);
    await next();
    c.res.headers.set(REQUEST_ID_HEADER, id);
    options.onResponse?.({
      requestId: id,
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      durationMs: Math.round(performance.now() - startedAt),
    });
  };
}
