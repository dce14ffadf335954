import type { Context } from "hono";

declare module "hono" {
  interface ContextVariableMap {
    /** Set when the request's run is shared with others (idempotency.ts): the signal that cancels it. */
    sharedRunSignal: AbortSignal | undefined;
  }
}

export const setSharedRunSignal = (c: Context, signal: AbortSignal): void => c.set("sharedRunSignal", signal);

/** What cancels the request's run: its client going away, or, for a shared run, all of its clients. */
export const runSignal = (c: Context): AbortSignal => c.get("sharedRunSignal") ?? c.req.raw.signal;
