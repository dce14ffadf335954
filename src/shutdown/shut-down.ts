import type { Server } from "node:http";
import type { Logger } from "pino";
import type { SandboxPort } from "../../domain/sandbox.port.js";
import type { Drain } from "./drain.js";
import type { InFlightRequests } from "./in-flight-requests.js";

export interface ShutdownDeps {
  readonly server: Pick<Server, "close" | "closeIdleConnections" | "closeAllConnections">;
  readonly inFlight: InFlightRequests;
  readonly drain: Drain;
  readonly sandbox: SandboxPort;
  /** The sessions (Sessions): ended after the requests in flight, before the sandbox closes. */
  readonly sessions?: { readonly count: number; close(options?: { readonly waitForCells?: boolean }): Promise<void> };
  readonly graceMs: number;
  readonly logger: Logger;
}

/** How long the responses of runs killed at the end of the grace period get to go out. */
const FLUSH_MS = 2000;

const sleep = (ms: number): { promise: Promise<"timeout">; cancel: () => void } => {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), ms);
  });
  return { promise, cancel: () => clearTimeout(timer) };
};

/**
 * Stops the service without dropping work: no new connections, in-flight requests finish
 * (up to `graceMs`), then whatever still runs is killed, every session ends (a cell still
 * running, its client gone, may finish first unless the grace period was over), the sandbox
 * backend is closed (no interpreter outlives the server) and the sockets are closed. `hurry`
 * resolving (a second signal) ends the grace period, or the wait for those cells, at once.
 */
export async function shutDown(deps: ShutdownDeps, hurry: Promise<unknown> = new Promise(() => undefined)): Promise<void> {
  const { server, inFlight, drain, logger } = deps;
  drain.startDraining();
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  logger.info({ graceMs: deps.graceMs, inFlight: inFlight.size }, "shutting down: no new connections, waiting for requests in flight");

  const grace = sleep(deps.graceMs);
  const finished = await Promise.race([inFlight.idle().then(() => "idle" as const), grace.promise, hurry.then(() => "hurried" as const)]);
  grace.cancel();
  if (finished !== "idle") {
    logger.warn({ inFlight: inFlight.size, reason: finished === "timeout" ? "grace period over" : "second signal" }, "killing the runs still in flight");
    drain.abort();
  }
  const sessions = deps.sessions;
  if (sessions) {
    logger.info({ sessions: sessions.count }, "ending the sessions");
    if (finished === "idle") await Promise.race([sessions.close(), hurry.then(() => sessions.close({ waitForCells: false }))]);
    else await sessions.close({ waitForCells: false });
  }
  await deps.sandbox.close();
  if (finished !== "idle") {
    const flush = sleep(FLUSH_MS);
    await Promise.race([inFlight.idle(), flush.promise]);
    flush.cancel();
  }
  server.closeAllConnections();
  await closed;
  logger.info("shut down");
}
