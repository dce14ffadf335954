import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/** Live numbers read at scrape time, so the gauges are never stale. */
export interface MetricsSources {
  /** Sandboxes running a script right now. */
  readonly running: () => number;
  /** Requests waiting for a free sandbox. */
  readonly queued: () => number;
  /** Pre-started sandboxes waiting for a script; undefined when there is no pool. */
  readonly poolReady?: () => number | undefined;
}

/** Seconds; from a trivial script (tens of ms) to the longest configurable run. */
const DURATION_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

const METRIC_PREFIX = "pyexec_";

/**
 * The service's Prometheus metrics, in a registry of their own (never prom-client's global
 * one, so two apps in one process, as in the tests, do not collide).
 */
export class ServiceMetrics {
  readonly registry = new Registry();
  private readonly executions: Counter<"code">;
  private readonly duration: Histogram<"code">;

  constructor(sources: MetricsSources, options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.executions = new Counter({
      name: `${METRIC_PREFIX}executions_total`,
      help: 'Executions by outcome: code is "OK" for a success, else the failure code (RUNTIME_ERROR, TIMEOUT, BUSY, ...)',
      labelNames: ["code"],
      registers,
    });
    this.duration = new Histogram({
      name: `${METRIC_PREFIX}execution_duration_seconds`,
      help: "Wall-clock time of an execution request, from admission to outcome (queue wait included), by outcome code",
      labelNames: ["code"],
      buckets: DURATION_BUCKETS,
      registers,
    });
    /** A gauge read at scrape time; a source that has no value (undefined) leaves it empty. */
    const liveGauge = (name: string, help: string, read: () => number | undefined) =>
      new Gauge({
        name: `${METRIC_PREFIX}${name}`,
        help,
        registers,
        collect() {
          const value = read();
          if (value === undefined) this.reset();
          else this.set(value);
        },
      });
    liveGauge("running_sandboxes", "Sandboxes running a script now", sources.running);
    liveGauge("queue_depth", "Execution requests waiting for a free sandbox", sources.queued);
    if (sources.poolReady)
      liveGauge("pool_ready_sandboxes", "Sandboxes started ahead and waiting for a script (the pool's, or the fork server's spares)", sources.poolReady);
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /** Counts one finished execution request; `code` is "OK" or the failure code. */
  recordExecution(code: string, durationMs: number): void {
    this.executions.inc({ code });
    this.duration.observe({ code }, durationMs / 1000);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The scrape body in the Prometheus text format. */
  render(): Promise<string> {
    return this.registry.metrics();
  }
}
