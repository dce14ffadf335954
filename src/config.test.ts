import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { describe, expect, it } from "vitest";
import { JAIL_WORK_DIR } from "../adapters/python/protocol-facts.js";
import { ConfigError, loadConfig, MAX_INPUT_FILES_BYTES_CEILING, SANDBOX_RUN_UIDS, VARIABLE_NAMES, VARIABLES } from "./config.js";

/** Runs loadConfig and returns the ConfigError it throws. */
function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe("loadConfig", () => {
  it("uses the documented defaults for an empty environment", () => {
    expect(loadConfig({})).toMatchObject({
      port: 8080,
      host: "0.0.0.0",
      backend: "auto",
      executionTimeoutMs: 30_000,
      memoryLimitMb: 512,
      maxScriptBytes: 262_144,
      maxOutputBytes: 1_048_576,
      maxResultBytes: 4_194_304,
      maxInputFiles: 100,
      maxInputFilesBytes: 8 * 1024 * 1024,
      maxOutputFiles: 100,
      maxOutputFilesBytes: 8 * 1024 * 1024,
      maxFigures: 20,
      preloadModules: ["numpy", "pandas", "matplotlib"],
      maxConcurrency: availableParallelism(),
      maxQueue: 64,
      pythonBin: undefined,
      nsjailBin: undefined,
      nsjailConfig: undefined,
      maxQueueWaitMs: 30_000,
      startupProbeTimeoutMs: 120_000,
      maxConnections: 1024,
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      keepAliveTimeoutMs: 5_000,
      maxSessions: 16,
      sessionMaxIdleMs: 3_600_000,
      sessionMaxAgeMs: 3_600_000,
    });
  });

  it("treats empty and blank values as unset", () => {
    expect(loadConfig({ PORT: "", HOST: "  ", SANDBOX_BACKEND: " ", MAX_QUEUE: "", PYTHON_BIN: "" })).toMatchObject({
      port: 8080,
      host: "0.0.0.0",
      backend: "auto",
      maxQueue: 64,
      pythonBin: undefined,
    });
  });

  it.each(Object.entries(VARIABLES))("reads %s into its own field", (key, variable) => {
    const defaults = loadConfig({});
    const config = loadConfig({ [variable.name]: variable.example }) as Record<string, unknown>;
    expect(config[key]).toEqual(variable.schema.parse(variable.example));
    expect(config[key]).not.toEqual((defaults as Record<string, unknown>)[key]);
  });

  it.each([
    ["POOL_SIZE", "poolSize"],
    ["POOL_CPU_SLOTS", "poolCpuSlots"],
  ] as const)("%s defaults to twice the CPUs for the fork server's spares, and to the CPUs for pre-started jails and subprocesses", (name, key) => {
    const cpus = availableParallelism();
    expect(loadConfig({})[key]).toBe(2 * cpus);
    expect(loadConfig({ SANDBOX_BACKEND: "nsjail" })[key]).toBe(2 * cpus);
    expect(loadConfig({ SANDBOX_MODE: "jail-per-run" })[key]).toBe(cpus);
    expect(loadConfig({ SANDBOX_BACKEND: "subprocess" })[key]).toBe(cpus);
    expect(loadConfig({ SANDBOX_BACKEND: "subprocess", [name]: "3" })[key]).toBe(3);
  });

  it("MAX_QUEUE_WAIT_MS defaults to EXECUTION_TIMEOUT_MS", () => {
    expect(loadConfig({ EXECUTION_TIMEOUT_MS: "5000" }).maxQueueWaitMs).toBe(5000);
    expect(loadConfig({ EXECUTION_TIMEOUT_MS: "5000", MAX_QUEUE_WAIT_MS: "0" }).maxQueueWaitMs).toBe(0);
  });

  it("every variable has a name of its own", () => {
    expect(new Set(VARIABLE_NAMES).size).toBe(VARIABLE_NAMES.length);
  });

  it.each(["nsjail", "subprocess", "auto"])("accepts SANDBOX_BACKEND=%s", (backend) => {
    expect(loadConfig({ SANDBOX_BACKEND: backend }).backend).toBe(backend);
  });

  it.each(["zygote", "jail-per-run"])("accepts SANDBOX_MODE=%s", (mode) => {
    expect(loadConfig({ SANDBOX_MODE: mode }).sandboxMode).toBe(mode);
  });

  it("trims whitespace around numbers", () => {
    expect(loadConfig({ PORT: " 8081 " }).port).toBe(8081);
  });

  it("PORT=0 (an ephemeral port) is allowed", () => {
    expect(loadConfig({ PORT: "0" }).port).toBe(0);
  });

  it.each<[string, string]>([
    ["PORT", "abc"],
    ["PORT", "80.5"],
    ["PORT", "70000"],
    ["PORT", "-1"],
    ["SANDBOX_BACKEND", "docker"],
    ["SANDBOX_BACKEND", "NSJAIL"],
    ["SANDBOX_MODE", "fork"],
    ["EXECUTION_TIMEOUT_MS", "-1"],
    ["EXECUTION_TIMEOUT_MS", "0"],
    ["EXECUTION_TIMEOUT_MS", "30s"],
    ["MEMORY_LIMIT_MB", "1e3"],
    ["MEMORY_LIMIT_MB", "0"],
    ["MAX_SCRIPT_BYTES", "0"],
    ["MAX_OUTPUT_BYTES", "lots"],
    ["MAX_RESULT_BYTES", "1"],
    ["MAX_CONCURRENCY", "0"],
    ["MAX_QUEUE", "-5"],
    ["MAX_INPUT_FILES", "many"],
    ["MAX_INPUT_FILES_BYTES", "100000000"],
    ["MAX_OUTPUT_FILES", "-1"],
    ["MAX_OUTPUT_FILES_BYTES", "8MiB"],
    ["MAX_FIGURES", "1001"],
    ["PRELOAD_MODULES", "numpy;pandas"],
    ["PRELOAD_MODULES", "numpy,os.path/x"],
    ["PYTHON_BIN", "relative/python"],
    ["PYTHON_BIN", "python3"],
    ["NSJAIL_BIN", "nsjail"],
    ["NSJAIL_CONFIG", "./nsjail.cfg"],
    ["SANDBOX_IO_MB_PER_SEC", "-1"],
    ["MAX_QUEUE_WAIT_MS", "soon"],
    ["POOL_CPU_SLOTS", "0"],
    ["STARTUP_PROBE_TIMEOUT_MS", "99"],
    ["MAX_CONNECTIONS", "0"],
    ["HEADERS_TIMEOUT_MS", "0"],
    ["REQUEST_TIMEOUT_MS", "10s"],
    ["KEEP_ALIVE_TIMEOUT_MS", "-1"],
    ["MAX_SESSIONS", "-1"],
    ["MAX_SESSIONS", "100000"],
    ["SESSION_MAX_IDLE_MS", "999"],
    ["SESSION_MAX_AGE_MS", "1h"],
  ])("%s=%s stops startup with a ConfigError naming the variable", (variable, value) => {
    const error = configError({ [variable]: value });
    expect(error.variable).toBe(variable);
    expect(error.message).toContain(variable);
    expect(error.message).toContain(value.trim());
  });

  it("a request timeout shorter than the header timeout stops startup naming REQUEST_TIMEOUT_MS", () => {
    const error = configError({ HEADERS_TIMEOUT_MS: "20000", REQUEST_TIMEOUT_MS: "15000" });
    expect(error.variable).toBe("REQUEST_TIMEOUT_MS");
    expect(error.message).toContain("HEADERS_TIMEOUT_MS (20000)");
    expect(error.message).toContain("15000");
  });

  describe("the sandbox uids", () => {
    const fixed = { MAX_CONCURRENCY: "8", POOL_SIZE: "8" };

    it("MAX_SESSIONS may take what MAX_CONCURRENCY and POOL_SIZE leave of them, and 0 turns sessions off", () => {
      expect(loadConfig({ ...fixed, MAX_SESSIONS: String(SANDBOX_RUN_UIDS - 16) }).maxSessions).toBe(SANDBOX_RUN_UIDS - 16);
      expect(loadConfig({ ...fixed, MAX_SESSIONS: "0" }).maxSessions).toBe(0);
    });

    it("sessions, concurrent runs and the pool needing more uids than there are stops startup naming MAX_SESSIONS and each term", () => {
      const error = configError({ ...fixed, MAX_SESSIONS: String(SANDBOX_RUN_UIDS - 15) });
      expect(error.variable).toBe("MAX_SESSIONS");
      expect(error.message).toBe(
        `Invalid configuration: MAX_SESSIONS with MAX_CONCURRENCY and POOL_SIZE needs ${SANDBOX_RUN_UIDS + 1} sandbox uids, ` +
          `more than the ${SANDBOX_RUN_UIDS} there are (MAX_SESSIONS ${SANDBOX_RUN_UIDS - 15} + MAX_CONCURRENCY 8 + POOL_SIZE 8): lower one of them`,
      );
    });

    it("the default MAX_SESSIONS counts too: a MAX_CONCURRENCY that leaves no room for it stops startup", () => {
      expect(configError({ MAX_CONCURRENCY: "1024", POOL_SIZE: "0" }).message).toContain("MAX_SESSIONS 16 + MAX_CONCURRENCY 1024 + POOL_SIZE 0");
    });
  });

  it("PRELOAD_MODULES set but empty preloads nothing", () => {
    expect(loadConfig({ PRELOAD_MODULES: "" }).preloadModules).toEqual([]);
  });

  it("reports the first bad variable even when others are fine", () => {
    expect(configError({ PORT: "8080", SANDBOX_BACKEND: "docker", MAX_QUEUE: "3" }).variable).toBe("SANDBOX_BACKEND");
  });
});

describe("nsjail.cfg's work dir", () => {
  const config = readFileSync(new URL("../nsjail.cfg", import.meta.url), "utf8");
  const tmpfsMounts = [...config.matchAll(/mount \{\s*dst: "([^"]+)"\s*fstype: "tmpfs"\s*options: "size=(\d+),/g)];
  const workMount = tmpfsMounts.find((mount) => mount[1] === JAIL_WORK_DIR);

  it("is the harness's (sandbox_harness/protocol.json): the jail's cwd and a tmpfs mount of its own", () => {
    expect(/^cwd: "([^"]+)"$/m.exec(config)?.[1]).toBe(JAIL_WORK_DIR);
    expect(workMount).toBeDefined();
  });

  it("holds the most input files MAX_INPUT_FILES_BYTES may allow, with room for what the script writes", () => {
    expect(Number(workMount?.[2])).toBeGreaterThan(MAX_INPUT_FILES_BYTES_CEILING);
  });
});
