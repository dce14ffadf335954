import { z } from "@hono/zod-openapi";
import { MIN_MEMORY_MB } from "../domain/execution-request.js";
import { FAILURE_CODES } from "../domain/failure-code.js";

export interface RequestLimits {
  readonly maxTimeoutMs: number;
  readonly maxMemoryMb: number;
}

/** The body of POST /execute; the per-request limits may not exceed the server's maxima. */
export const executeRequestSchema = (limits: RequestLimits) =>
  z
    .object({
      script: z
        .string({ error: "script must be a string" })
        .min(1, "script must not be empty")
        .openapi({
          description: "Python source defining a callable main() that takes no arguments",
          example: 'def main():\n    print("adding")\n    return {"sum": 1 + 2}',
        }),
      timeoutMs: z
        .number()
        .int()
        .positive()
        .max(limits.maxTimeoutMs, `timeoutMs may be at most ${limits.maxTimeoutMs}`)
        .optional()
        .openapi({ description: `Wall-clock limit for this run (default and maximum ${limits.maxTimeoutMs})`, example: 5000 }),
      memoryMb: z
        .number()
        .int()
        .min(MIN_MEMORY_MB, `memoryMb must be at least ${MIN_MEMORY_MB}`)
        .max(limits.maxMemoryMb, `memoryMb may be at most ${limits.maxMemoryMb}`)
        .optional()
        .openapi({ description: `Memory limit for this run, at least ${MIN_MEMORY_MB} (default and maximum ${limits.maxMemoryMb})`, example: 256 }),
    })
    .openapi("ExecuteRequest");

const outputFields = {
  stdout: z.string().openapi({ description: "Everything the script wrote to stdout, UTF-8 decoded", example: "adding\n" }),
  stderr: z.string().openapi({ description: "Everything the script wrote to stderr", example: "" }),
  stdoutTruncated: z.boolean().openapi({ description: "stdout passed MAX_OUTPUT_BYTES and was cut there", example: false }),
  stderrTruncated: z.boolean().openapi({ description: "stderr passed MAX_OUTPUT_BYTES and was cut there", example: false }),
};

export const executeSuccessSchema = z
  .object({
    result: z.unknown().openapi({ description: "main()'s return value as strict JSON", example: { sum: 3 } }),
    ...outputFields,
    durationMs: z.number().int().openapi({ example: 21 }),
  })
  .openapi("ExecuteSuccess");

export const errorSchema = z
  .object({
    error: z.string().openapi({ description: "What went wrong, for people", example: "No callable main() found in script" }),
    code: z.enum(FAILURE_CODES).openapi({ description: "Stable machine code", example: "MAIN_NOT_FOUND" }),
    stdout: z.string(),
    stderr: z.string(),
    stdoutTruncated: z.boolean().optional(),
    stderrTruncated: z.boolean().optional(),
    traceback: z.string().optional().openapi({ description: "RUNTIME_ERROR and SYNTAX_ERROR: the script's own frames" }),
    durationMs: z.number().int().optional(),
  })
  .openapi("Error");

export const healthSchema = z
  .object({
    status: z.literal("ok"),
    backend: z.string().openapi({ example: "nsjail" }),
    isolation: z.string().openapi({ description: "What the live backend isolates", example: "nsjail: namespaces, seccomp, cgroups" }),
    python: z.string().openapi({ example: "3.11.2" }),
    packages: z.record(z.string(), z.string()).openapi({ example: { numpy: "2.4.6", pandas: "3.1.1" } }),
    cgroup: z.enum(["v1", "v2", "none"]).optional().openapi({ description: "The cgroup version that limits the sandboxes (none: rlimits only)", example: "v2" }),
    limits: z
      .object({ memory: z.string(), processes: z.string(), cpuTime: z.string(), io: z.string() })
      .optional()
      .openapi({
        description: "What enforces each limit of a run: a cgroup controller or an rlimit",
        example: { memory: "cgroup (memory.max, memory.swap.max 0)", processes: "cgroup (pids.max)", cpuTime: "rlimit (RLIMIT_CPU)", io: "cgroup (io.max)" },
      }),
  })
  .openapi("Health");

export type ErrorBody = z.infer<typeof errorSchema>;
export type HealthBody = z.infer<typeof healthSchema>;
