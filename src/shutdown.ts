import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Logger } from "pino";
import { NO_OUTPUT } from "../domain/captured-output.js";
import { failure } from "../domain/execution-result.js";
import { err } from "../domain/result.js";
import type { SandboxPort } from "../domain/sandbox.port.js";
import type { Execute } from "./observability/observe-executions.js";

/**
 * Whether the service still takes new executions. On SIGTERM it drains: runs already
 * admitted (running or queued) go on, new ones are refused with 503 so a load balancer
 * retries them elsewhere. When the grace period is over it aborts: no further run starts
 * (a queued request admitted now is refused too), and the runs killed by the shutdown are
 * answered 503, not with whatever a killed interpreter looks like.
 */
export class Drain {
  private state: "serving" | "draining" | "aborting" = "serving";

  get serving(): boolean {
    return this.state === "serving";
  }

  get aborting(): boolean {
    return this.state === "aborting";
  }

  startDraining(): void {
    if (this.state === "serving") this.state = "draining";
  }

  abort(): void {
    this.state = "aborting";
  }

  /** Refuses new execution requests once draining has begun. */
  guard(execute: Execute): Execute {
    return async (request, context) => {
      if (!this.serving) return SHUTTING_DOWN;
      return execute(request, context);
    };
  }

  /** The sandbox as the use case sees it: after abort, nothing starts and killed runs are a 503. */
  guardSandbox(sandbox: SandboxPort): SandboxPort {
    return {
      get backend() {
        return sandbox.backend;
      },
      get isolation() {
        return sandbox.isolation;
      },
      run: async (request) => {
        if (this.aborting) return SHUTTING_DOWN;
        const outcome = await sandbox.run(request);
        if (this.aborting && !outcome.ok) {
          return err(failure("SANDBOX_UNAVAILABLE", "The server shut down before the script finished; retry the request", outcome.error.output, RETRY));
        }
        return outcome;
      },
      close: () => sandbox.close(),
    };
  }
}

const RETRY = { retryAfterSeconds: 1 };
const SHUTTING_DOWN = err(failure("SANDBOX_UNAVAILABLE", "The server is shutting down; retry the request", NO_OUTPUT, RETRY));

/** Counts HTTP requests from arrival until their response is fully written (or the socket is gone). */
export class InFlightRequests {
  private count = 0;
  private waiters: (() => void)[] = [];

  constructor(server: Pick<Server, "on">) {
    server.on("request", (_req: IncomingMessage, res: ServerResponse) => {
      this.count++;
      res.once("close", () => {
        this.count--;
        if (this.count === 0) for (const wake of this.waiters.splice(0)) wake();
      });
    });
  }

  get size(): number {
    return this.count;
  }

  /** Resolves when no request is in flight. */
  idle(): Promise<void> {
    if (this.count === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

export interface ShutdownDeps {
  readonly server: Pick<Server, "close" | "closeIdleConnections" | "closeAllConnections">;
  readonly inFlight: InFlightRequests;
  readonly drain: Drain;
  readonly sandbox: SandboxPort;
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
 * (up to `graceMs`), then whatever still runs is killed, the sandbox backend is closed (no
 * interpreter outlives the server) and the sockets are closed. `hurry` resolving (a second
 * signal) ends the grace period at once.
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

/**
 * Runs `shutDown` on the first SIGTERM or SIGINT (Cloud Run and Kubernetes send SIGTERM on
 * every scale-down), hurries it on a second one, then exits 0.
 */
export function shutDownOnSignals(deps: ShutdownDeps, exit: (code: number) => void = (code) => process.exit(code)): void {
  let hurry: (() => void) | undefined;
  const hurried = new Promise<void>((resolve) => {
    hurry = resolve;
  });
  let started = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (started) {
      deps.logger.warn({ signal }, "second signal: not waiting for the grace period");
      hurry?.();
      return;
    }
    started = true;
    deps.logger.info({ signal }, "signal received");
    shutDown(deps, hurried).then(
      () => exit(0),
      (error: unknown) => {
        deps.logger.error({ err: error }, "shutdown failed");
        exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}
