import { SANDBOX_UID_BASE } from "../adapters/python/sandbox-uids.js";
import { availableParallelism } from "node:os";
import { MIN_MEMORY_MB } from "../domain/execution-request.js";

export type BackendChoice = "nsjail" | "subprocess" | "auto";
/** How the nsjail backend gives each run its jail: forked by a fork server, or a new nsjail. */
export const SANDBOX_MODES = ["jail-per-run", "zygote"] as const;
export type SandboxMode = (typeof SANDBOX_MODES)[number];

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly backend: BackendChoice;
  readonly sandboxMode: SandboxMode;
  readonly executionTimeoutMs: number;
  readonly memoryLimitMb: number;
  readonly maxScriptBytes: number;
  readonly maxOutputBytes: number;
  readonly maxResultBytes: number;
  readonly maxConcurrency: number;
  readonly maxQueue: number;
  readonly poolSize: number;
  readonly pythonBin: string | undefined;
  readonly nsjailBin: string | undefined;
  readonly nsjailConfig: string | undefined;
  /** Bearer keys accepted on /execute and /metrics; empty means auth is off. */
  readonly apiKeys: readonly string[];
  /** How long a SIGTERM/SIGINT waits for in-flight runs before killing them. */
  readonly shutdownGraceMs: number;
  readonly sandboxUidBase: number;
  /** Block IO each jail may do on the disk holding the runtime, in MiB/s; 0 leaves IO unthrottled. */
  readonly sandboxIoMbPerSec: number;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    detail: string,
  ) {
    super(`Invalid configuration: ${variable} ${detail}`);
  }
}

type Env = Readonly<Record<string, string | undefined>>;

function integer(env: Env, name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(name, `must be a whole number, got "${raw}"`);
  const value = Number(raw.trim());
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

function oneOf<T extends string>(env: Env, name: string, choices: readonly T[], fallback: T): T {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = raw.trim() as T;
  if (!choices.includes(value)) throw new ConfigError(name, `must be one of ${choices.join(", ")}, got "${raw}"`);
  return value;
}

function optionalPath(env: Env, name: string): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return undefined;
  if (!raw.startsWith("/")) throw new ConfigError(name, `must be an absolute path, got "${raw}"`);
  return raw;
}

/** Comma-separated keys; each must be sendable as a Bearer token (visible ASCII, no comma). */
function apiKeys(env: Env, name: string): readonly string[] {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return [];
  const keys = raw.split(",").map((key) => key.trim()).filter((key) => key !== "");
  if (keys.length === 0) throw new ConfigError(name, "must list at least one key (comma-separated), or be unset to turn auth off");
  const bad = keys.findIndex((key) => !/^[\x21-\x7e]+$/.test(key));
  if (bad >= 0) throw new ConfigError(name, `key #${bad + 1} has a space or a non-ASCII or control character`);
  return keys;
}

/** Reads the configuration from the environment; a bad value throws a ConfigError naming its variable. */
export function loadConfig(env: Env): Config {
  return {
    port: integer(env, "PORT", 8080, 0, 65535),
    host: env.HOST?.trim() || "0.0.0.0",
    backend: oneOf(env, "SANDBOX_BACKEND", ["nsjail", "subprocess", "auto"] as const, "auto"),
    sandboxMode: oneOf(env, "SANDBOX_MODE", SANDBOX_MODES, "zygote"),
    executionTimeoutMs: integer(env, "EXECUTION_TIMEOUT_MS", 30_000, 100, 3_600_000),
    memoryLimitMb: integer(env, "MEMORY_LIMIT_MB", 512, MIN_MEMORY_MB, 65_536),
    maxScriptBytes: integer(env, "MAX_SCRIPT_BYTES", 262_144, 1, 64 * 1024 * 1024),
    maxOutputBytes: integer(env, "MAX_OUTPUT_BYTES", 1_048_576, 0, 256 * 1024 * 1024),
    maxResultBytes: integer(env, "MAX_RESULT_BYTES", 4_194_304, 2, 256 * 1024 * 1024),
    maxConcurrency: integer(env, "MAX_CONCURRENCY", availableParallelism(), 1, 1024),
    maxQueue: integer(env, "MAX_QUEUE", 64, 0, 100_000),
    poolSize: integer(env, "POOL_SIZE", availableParallelism(), 0, 256),
    pythonBin: optionalPath(env, "PYTHON_BIN"),
    nsjailBin: optionalPath(env, "NSJAIL_BIN"),
    nsjailConfig: optionalPath(env, "NSJAIL_CONFIG"),
    apiKeys: apiKeys(env, "API_KEYS"),
    shutdownGraceMs: integer(env, "SHUTDOWN_GRACE_MS", 10_000, 0, 3_600_000),
    sandboxUidBase: integer(env, "SANDBOX_UID_BASE", SANDBOX_UID_BASE, 100_000, 4_000_000_000),
    sandboxIoMbPerSec: integer(env, "SANDBOX_IO_MB_PER_SEC", 100, 0, 1_000_000),
  };
}
