import type { MiddlewareHandler } from "hono";

/** What one finished HTTP request looks like in the log. */
export interface RequestLogEntry {
  readonly requestId: string;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly durationMs: number;
}

/** Tells `onRequest` about every request once its response is ready (after the request id is set). */
export const accessLog =
  (onRequest: (entry: RequestLogEntry) => void): MiddlewareHandler =>
  async (c, next) => {
    const startedAt = performance.now();
    await next();
    onRequest({
      requestId: c.get("requestId"),
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      durationMs: Math.round(performance.now() - startedAt),
    });
  };
