/**
 * One run that several requests wait for (the first request with an Idempotency-Key and its
 * repeats): it is cancelled once every one of their clients has gone, not when the first has,
 * so a repeat that is still waiting gets the run's own outcome.
 */
export class SharedRun {
  private readonly controller = new AbortController();
  private clients = 0;

  /** What the run is given as its cancellation signal. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get cancelled(): boolean {
    return this.controller.signal.aborted;
  }

  /** A request waits for the run until `client` (its client's signal) aborts. */
  join(client: AbortSignal): void {
    this.clients += 1;
    const leave = () => {
      this.clients -= 1;
      if (this.clients === 0) this.controller.abort();
    };
    if (client.aborted) leave();
    else client.addEventListener("abort", leave, { once: true });
  }
}
