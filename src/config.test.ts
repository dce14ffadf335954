import { availableParallelism } from "node:os";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./config.js";

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
  it("uses the SPEC's defaults for an empty environment", () => {
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
      maxConnections: 1024,
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      keepAliveTimeoutMs: 5_000,
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

  it("reads every variable", () => {
    const config = loadConfig({
      PORT: "9090",
      HOST: "127.0.0.1",
      SANDBOX_BACKEND: "subprocess",
      EXECUTION_TIMEOUT_MS: "5000",
      MEMORY_LIMIT_MB: "256",
      MAX_SCRIPT_BYTES: "1000",
      MAX_OUTPUT_BYTES: "2000",
      MAX_RESULT_BYTES: "3000",
      MAX_INPUT_FILES: "4",
      MAX_INPUT_FILES_BYTES: "5000",
      MAX_OUTPUT_FILES: "6",
      MAX_OUTPUT_FILES_BYTES: "7000",
      MAX_FIGURES: "8",
      PRELOAD_MODULES: " numpy , scipy.stats,",
      MAX_CONCURRENCY: "3",
      MAX_QUEUE: "0",
      PYTHON_BIN: "/opt/venv/bin/python",
      NSJAIL_BIN: "/usr/local/bin/nsjail",
      NSJAIL_CONFIG: "/etc/pyexec/nsjail.cfg",
      SANDBOX_IO_MB_PER_SEC: "0",
      MAX_CONNECTIONS: "50",
      HEADERS_TIMEOUT_MS: "2000",
      REQUEST_TIMEOUT_MS: "4000",
      KEEP_ALIVE_TIMEOUT_MS: "1000",
    });
    expect(config).toMatchObject({
      port: 9090,
      host: "127.0.0.1",
      backend: "subprocess",
      executionTimeoutMs: 5000,
      memoryLimitMb: 256,
      maxScriptBytes: 1000,
      maxOutputBytes: 2000,
      maxResultBytes: 3000,
      maxInputFiles: 4,
      maxInputFilesBytes: 5000,
      maxOutputFiles: 6,
      maxOutputFilesBytes: 7000,
      maxFigures: 8,
      preloadModules: ["numpy", "scipy.stats"],
      maxConcurrency: 3,
      maxQueue: 0,
      pythonBin: "/opt/venv/bin/python",
      nsjailBin: "/usr/local/bin/nsjail",
      nsjailConfig: "/etc/pyexec/nsjail.cfg",
      sandboxIoMbPerSec: 0,
      maxConnections: 50,
      headersTimeoutMs: 2000,
      requestTimeoutMs: 4000,
      keepAliveTimeoutMs: 1000,
    });
  });

  it.each(["nsjail", "subprocess", "auto"])("accepts SANDBOX_BACKEND=%s", (backend) => {
    expect(loadConfig({ SANDBOX_BACKEND: backend }).backend).toBe(backend);
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
    ["MAX_CONNECTIONS", "0"],
    ["HEADERS_TIMEOUT_MS", "0"],
    ["REQUEST_TIMEOUT_MS", "10s"],
    ["KEEP_ALIVE_TIMEOUT_MS", "-1"],
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

  it("PRELOAD_MODULES set but empty preloads nothing", () => {
    expect(loadConfig({ PRELOAD_MODULES: "" }).preloadModules).toEqual([]);
  });

  it("reports the first bad variable even when others are fine", () => {
    expect(configError({ PORT: "8080", SANDBOX_BACKEND: "docker", MAX_QUEUE: "3" }).variable).toBe("SANDBOX_BACKEND");
  });
});
