import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { SESSION_END_REASONS, type SessionEndReason } from "../../domain/sessions.use-case.js";

/** Live numbers read at scrape time, so the gauges are never stale. */
export interface MetricsSources {
  /** Sandboxes running a script right now. */
  readonly running: () => number;
  /** Requests waiting for a free sandbox. */
  readonly queued: () => number;
  /** Pre-started sandboxes waiting for a script; undefined when there is no pool. */
  readonly poolReady?: () => number | undefined;
  /** What the Idempotency-Key store holds now: keys, and their answers' bytes. */
  readonly idempotency?: { readonly keys: number; readonly bytes: number };
  /** Sessions open now; undefined when the server keeps none. */
  readonly sessionsOpen?: () => number;
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
  private readonly idempotentRequests: Counter<"outcome">;
  private readonly idempotencyKeysForgotten: Counter;
  private readonly sessionStarts: Counter<"code">;
  private readonly sessionCells: Counter<"code">;
  private readonly sessionsEnded: Counter<"reason">;

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
    this.idempotentRequests = new Counter({
      name: `${METRIC_PREFIX}idempotent_requests_total`,
      help:
        "Requests sent with an Idempotency-Key (POST /execute, POST /sessions, a session's cell), by outcome: first (it ran), " +
        "replayed (given the first one's answer), waited (given it once the first one, still running, ended), refused (the key came with another path or body, 422)",
      labelNames: ["outcome"],
      registers,
    });
    this.idempotencyKeysForgotten = new Counter({
      name: `${METRIC_PREFIX}idempotency_keys_forgotten_total`,
      help: "Idempotency-Keys forgotten before IDEMPOTENCY_WINDOW_MS ended, to stay within IDEMPOTENCY_MAX_KEYS and IDEMPOTENCY_MAX_BYTES",
      registers,
    });
    this.sessionStarts = new Counter({
      name: `${METRIC_PREFIX}session_starts_total`,
      help: 'POST /sessions requests by outcome: code is "OK" for a session started, else the failure code (SESSION_LIMIT, BUSY, ...)',
      labelNames: ["code"],
      registers,
    });
    this.sessionCells = new Counter({
      name: `${METRIC_PREFIX}session_cells_total`,
      help: 'Cells run in sessions by outcome: code is "OK" for a success, else the failure code (RUNTIME_ERROR, TIMEOUT, SESSION_NOT_FOUND, SESSION_BUSY, ...)',
      labelNames: ["code"],
      registers,
    });
    this.sessionsEnded = new Counter({
      name: `${METRIC_PREFIX}sessions_ended_total`,
      help:
        "Sessions ended, by reason: deleted, idle (its idle timeout), max-age (SESSION_MAX_AGE_MS), cell (a cell ended it: its memory limit, a kill, an exit), " +
        "process (its sandbox ended between cells), shutdown",
      labelNames: ["reason"],
      registers,
    });
    // Every reason from the start, at 0, so a rate over it exists before the first such end.
    for (const reason of SESSION_END_REASONS) this.sessionsEnded.inc({ reason }, 0);
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
    const idempotency = sources.idempotency;
    if (idempotency) {
      liveGauge("idempotency_keys", "Idempotency-Keys remembered now, running or answered", () => idempotency.keys);
      liveGauge("idempotency_bytes", "Bytes of the answers remembered for Idempotency-Keys now", () => idempotency.bytes);
    }
    if (sources.sessionsOpen) liveGauge("sessions_open", "Sessions open now, each holding a sandbox (and its memory) between its cells", sources.sessionsOpen);
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /** Counts one finished execution request; `code` is "OK" or the failure code. */
  recordExecution(code: string, durationMs: number): void {
    this.executions.inc({ code });
    this.duration.observe({ code }, durationMs / 1000);
  }

  /** Counts one POST /execute request sent with an Idempotency-Key. */
  recordIdempotentRequest(outcome: string): void {
    this.idempotentRequests.inc({ outcome });
  }

  /** Counts one Idempotency-Key forgotten before its time. */
  recordIdempotencyKeyForgotten(): void {
    this.idempotencyKeysForgotten.inc();
  }

  /** Counts one POST /sessions; `code` is "OK" or the failure code. */
  recordSessionStart(code: string): void {
    this.sessionStarts.inc({ code });
  }

  /** Counts one cell run in a session (or refused); `code` is "OK" or the failure code. */
  recordSessionCell(code: string): void {
    this.sessionCells.inc({ code });
  }

  recordSessionEnded(reason: SessionEndReason): void {
    this.sessionsEnded.inc({ reason });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The scrape body in the Prometheus text format. */
  render(): Promise<string> {
    return this.registry.metrics();
  }
}
