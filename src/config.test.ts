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
      maxConcurrency: availableParallelism(),
      maxQueue: 64,
      pythonBin: undefined,
      nsjailBin: undefined,
      nsjailConfig: undefined,
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
      MAX_CONCURRENCY: "3",
      MAX_QUEUE: "0",
      PYTHON_BIN: "/opt/venv/bin/python",
      NSJAIL_BIN: "/usr/local/bin/nsjail",
      NSJAIL_CONFIG: "/etc/pyexec/nsjail.cfg",
      SANDBOX_IO_MB_PER_SEC: "0",
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
      maxConcurrency: 3,
      maxQueue: 0,
      pythonBin: "/opt/venv/bin/python",
      nsjailBin: "/usr/local/bin/nsjail",
      nsjailConfig: "/etc/pyexec/nsjail.cfg",
      sandboxIoMbPerSec: 0,
    });
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
    ["PYTHON_BIN", "relative/python"],
    ["PYTHON_BIN", "python3"],
    ["NSJAIL_BIN", "nsjail"],
    ["NSJAIL_CONFIG", "./nsjail.cfg"],
    ["SANDBOX_IO_MB_PER_SEC", "-1"],
  ])("%s=%s stops startup with a ConfigError naming the variable", (variable, value) => {
    const error = configError({ [variable]: value });
    expect(error.variable).toBe(variable);
    expect(error.message).toContain(variable);
    expect(error.message).toContain(value.trim());
  });

  it("reports the first bad variable even when others are fine", () => {
    expect(configError({ PORT: "8080", SANDBOX_BACKEND: "docker", MAX_QUEUE: "3" }).variable).toBe("SANDBOX_BACKEND");
  });
});
