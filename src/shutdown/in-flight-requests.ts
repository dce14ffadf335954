import type { IncomingMessage, Server, ServerResponse } from "node:http";

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
