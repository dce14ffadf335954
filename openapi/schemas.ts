import { z } from "@hono/zod-openapi";
import { MIN_MEMORY_MB } from "../domain/execution-request.js";
import { RESULT_KINDS } from "../domain/execution-result.js";
import { inputFileProblems, MAX_INPUT_PATH_BYTES } from "../domain/input-files.js";
import { ERROR_CODES } from "./error-codes.js";
import { IDEMPOTENCY_KEY_HEADER, IDEMPOTENT_REPLAYED_HEADER, MAX_IDEMPOTENCY_KEY_LENGTH } from "./idempotency-key.js";
import { issueMessages } from "./request-issues.js";

export interface RequestLimits {
  readonly maxTimeoutMs: number;
  readonly maxMemoryMb: number;
  readonly maxInputFiles: number;
  readonly maxInputFilesBytes: number;
}

const inputFileSchema = z
  .strictObject(
    {
      path: z.string({ error: issueMessages() }).meta({
        description:
          `Where the file goes, relative to the work dir, directories separated by /: not absolute, no "." or ".." parts, ` +
          `no empty parts, no backslash or control character, at most ${MAX_INPUT_PATH_BYTES} bytes; each path at most once`,
        example: "data/sales.csv",
      }),
      content: z
        .string({ error: issueMessages() })
        .meta({ description: "The file's content: the text itself, or base64 with encoding base64", example: "region,amount\neast,10\n" }),
      encoding: z
        .enum(["utf-8", "base64"], { error: issueMessages() })
        .default("utf-8")
        .meta({ description: "utf-8: content is the text; base64: content is the bytes in standard, padded base64" }),
    },
    { error: issueMessages("a JSON object {path, content, encoding?}") },
  )
  .openapi("InputFile");

/**
 * The body of POST /execute, and the input of the MCP tool run_python; the per-request limits may
 * not exceed the server's maxima. Each field's description goes in `.meta()`, zod's own registry,
 * which both the OpenAPI document and the MCP tool's JSON Schema read (`.openapi()` metadata
 * reaches only the former).
 */
export const executeRequestSchema = (limits: RequestLimits) =>
  z
    .strictObject(
      {
        script: z
          .string({ error: issueMessages("a string of Python source") })
          .min(1)
          .meta({
            description: "Python source defining a callable main(), called with args as keyword arguments (or none)",
            example: 'def main():\n    print("adding")\n    return {"sum": 1 + 2}',
          }),
        timeoutMs: z
          .number({ error: issueMessages("a whole number of milliseconds") })
          .int()
          .min(1)
          .max(limits.maxTimeoutMs)
          .optional()
          .meta({ description: `Wall-clock limit for this run (default and maximum ${limits.maxTimeoutMs})`, example: 5000 }),
        memoryMb: z
          .number({ error: issueMessages("a whole number of megabytes") })
          .int()
          .min(MIN_MEMORY_MB)
          .max(limits.maxMemoryMb)
          .optional()
          .meta({ description: `Memory limit for this run, at least ${MIN_MEMORY_MB} (default and maximum ${limits.maxMemoryMb})`, example: 256 }),
        args: z
          .record(z.string(), z.unknown(), { error: issueMessages("a JSON object of main()'s arguments by name") })
          .optional()
          .meta({
            description:
              "A JSON object: main(**args) is called with it (numbers as written, e.g. 1.0 stays a float). Without it, main() is called with no arguments. " +
              "Arguments that do not fit main's signature are refused as INVALID_ARGS naming the parameter; only a script with main() takes args.",
            example: { name: "Ada" },
          }),
        files: z
          .array(inputFileSchema, { error: issueMessages() })
          .superRefine((files, context) => {
            for (const problem of inputFileProblems(files)) {
              context.addIssue({ code: "custom", path: [problem.index, problem.field], params: { problem: problem.message } });
            }
          })
          .optional()
          .meta({
            description:
              `Files written into the run's work dir before the script starts. At most ${limits.maxInputFiles} files ` +
              `of ${limits.maxInputFilesBytes} bytes together once decoded (MAX_INPUT_FILES, MAX_INPUT_FILES_BYTES); more is refused as PAYLOAD_TOO_LARGE.`,
          }),
      },
      { error: issueMessages("a JSON object") },
    )
    .openapi("ExecuteRequest");

const outputFields = {
  stdout: z.string().openapi({ description: "Everything the script wrote to stdout, UTF-8 decoded", example: "adding\n" }),
  stderr: z.string().openapi({ description: "Everything the script wrote to stderr", example: "" }),
  stdoutTruncated: z.boolean().openapi({ description: "stdout passed MAX_OUTPUT_BYTES and was cut there", example: false }),
  stderrTruncated: z.boolean().openapi({ description: "stderr passed MAX_OUTPUT_BYTES and was cut there", example: false }),
};

const outputFileSchema = z
  .object({
    path: z.string().openapi({ example: "summary.csv" }),
    size: z.number().int().openapi({ description: "Bytes", example: 24 }),
    mediaType: z.string().openapi({ description: "From the file name's extension", example: "text/csv" }),
    encoding: z.enum(["utf-8", "base64"]).optional().openapi({ description: "utf-8 when the content is UTF-8 text, else base64; absent with content" }),
    content: z.string().optional().openapi({
      description: "Absent for a file past MAX_OUTPUT_FILES_BYTES (then filesTruncated is true)",
      example: "region,amount\neast,10\n",
    }),
  })
  .openapi("OutputFile");

const figureSchema = z
  .object({
    mediaType: z.literal("image/png"),
    encoding: z.literal("base64"),
    content: z.string().openapi({ description: "The PNG, base64" }),
    width: z.number().int().openapi({ description: "Pixels", example: 640 }),
    height: z.number().int().openapi({ description: "Pixels", example: 480 }),
  })
  .openapi("Figure");

/** Present when the run created or changed a file, or left a figure; absent otherwise. */
const artifactFields = {
  files: z
    .array(outputFileSchema)
    .optional()
    .openapi({
      description:
        "Regular files the run created or changed in its work dir (not unchanged inputs), sorted by path; symlinks, fifos and devices are never followed or read. " +
        "At most MAX_OUTPUT_FILES are listed; in path order each has its content until MAX_OUTPUT_FILES_BYTES (shared with figures) would be passed, the rest only their size.",
    }),
  filesTruncated: z.boolean().optional().openapi({ description: "Files were left out of the list or listed without content" }),
  figures: z.array(figureSchema).optional().openapi({
    description: "matplotlib figures: each one shown with plt.show(), then each one open when main() returned; at most MAX_FIGURES",
  }),
  figuresTruncated: z.boolean().optional().openapi({ description: "Figures were left out (MAX_FIGURES or the byte cap)" }),
};

/**
 * The headers of POST /execute the document names, by the lowercase names Hono reads them by. The
 * key is checked before this schema is (src/http/idempotency-key.ts), so the schema only documents it.
 */
export const executeHeadersSchema = z.object({
  [IDEMPOTENCY_KEY_HEADER.toLowerCase()]: z
    .string()
    .optional()
    .openapi({
      description:
        `A key of the client's choosing, new for each request, as a quoted string (the IETF draft's form) or bare, at most ` +
        `${MAX_IDEMPOTENCY_KEY_LENGTH} characters of visible ASCII. The request sent again with the same key, path and body within ` +
        `IDEMPOTENCY_WINDOW_MS (and the same API key) gets the first answer, marked ${IDEMPOTENT_REPLAYED_HEADER}: true, and is not ` +
        "run again; while the first still runs, the repeat waits for its answer. The same key with another path or body is 422 IDEMPOTENCY_KEY_REUSED. " +
        'Example: "8e03978e-40d5-43e8-bc93-6894a57f9324". (No example value: Swagger UI would send it with every request.)',
    }),
});

/** What POST /sessions checks beside /execute's limits: the longest idle timeout, and the one a session gets when it names none. */
export interface SessionRequestLimits extends RequestLimits {
  readonly maxIdleMs: number;
  readonly defaultIdleMs: number;
  readonly maxAgeMs: number;
}

/** The least idleTimeoutMs a session may ask for. */
export const MIN_IDLE_TIMEOUT_MS = 1000;

/**
 * The body of POST /sessions: its memoryMb and files are /execute's fields (the same checks),
 * described for a session.
 */
export const sessionRequestSchema = (limits: SessionRequestLimits) => {
  const { memoryMb, files } = executeRequestSchema(limits).shape;
  return z
    .strictObject(
      {
        memoryMb: memoryMb.meta({
          description:
            `Memory limit of the whole session (every cell, and the files in its work dir), at least ${MIN_MEMORY_MB} ` +
            `(default and maximum ${limits.maxMemoryMb}); reaching it ends the session with MEMORY_LIMIT_EXCEEDED`,
          example: 256,
        }),
        idleTimeoutMs: z
          .number({ error: issueMessages("a whole number of milliseconds") })
          .int()
          .min(MIN_IDLE_TIMEOUT_MS)
          .max(limits.maxIdleMs)
          .optional()
          .meta({
            description:
              `The session ends when no cell has run in it for this long (default ${limits.defaultIdleMs}, maximum ${limits.maxIdleMs}, SESSION_MAX_IDLE_MS); ` +
              `whatever it does, it ends ${limits.maxAgeMs} ms after it started (SESSION_MAX_AGE_MS)`,
            example: 600_000,
          }),
        files: files.meta({
          description:
            `Files written into the session's work dir before its first cell. At most ${limits.maxInputFiles} files ` +
            `of ${limits.maxInputFilesBytes} bytes together once decoded (MAX_INPUT_FILES, MAX_INPUT_FILES_BYTES); more is refused as PAYLOAD_TOO_LARGE.`,
        }),
      },
      { error: issueMessages("a JSON object") },
    )
    .openapi("SessionRequest");
};

/** The body of POST /sessions/{id}/execute: a cell, with /execute's timeoutMs and files (the same checks). */
export const cellRequestSchema = (limits: RequestLimits) => {
  const { timeoutMs, files } = executeRequestSchema(limits).shape;
  return z
    .strictObject(
      {
        code: z
          .string({ error: issueMessages("a string of Python source") })
          .min(1)
          .meta({
            description:
              "A cell: top-level Python run in the session's namespace, so it sees the variables, imports and functions of the cells before it. " +
              "Its result is the value of its last line when that is an expression (null otherwise); no main() is called",
            example: 'import pandas as pd\ndf = pd.DataFrame({"x": [1, 2, 3]})\ndf["x"].sum()',
          }),
        timeoutMs: timeoutMs.meta({
          description:
            `Wall-clock limit for this cell (default and maximum ${limits.maxTimeoutMs}): at it the cell is interrupted (KeyboardInterrupt), ` +
            "the answer is TIMEOUT and the session keeps its state; a cell that does not stop then is killed with its session",
          example: 5000,
        }),
        files: files.meta({
          description:
            "Files written into the session's work dir before the cell runs (the dir persists between cells). " +
            `At most ${limits.maxInputFiles} files of ${limits.maxInputFilesBytes} bytes together once decoded; more is refused as PAYLOAD_TOO_LARGE.`,
        }),
      },
      { error: issueMessages("a JSON object") },
    )
    .openapi("CellRequest");
};

/** A session's id, in the path of its operations. */
export const sessionIdParamsSchema = z.object({
  id: z
    .string()
    .min(1)
    .openapi({ param: { name: "id", in: "path" }, description: "The id POST /sessions answered", example: "hV3k9Qm2xR7tL0aB4cD8eF" }),
});

const sessionFields = {
  id: z.string().openapi({ description: "The session's id: 128 random bits or more, URL-safe", example: "hV3k9Qm2xR7tL0aB4cD8eF" }),
  expiresAt: z.iso.datetime().openapi({
    description: "When the session ends unless a cell runs before (its idle timeout), or at its maximum age, whichever is first",
    example: "2026-12-07T10:10:00.000Z",
  }),
  memoryMb: z.number().int().openapi({ description: "The whole session's memory limit", example: 512 }),
  idleTimeoutMs: z.number().int().openapi({ example: 600_000 }),
};

export const sessionCreatedSchema = z.object(sessionFields).openapi("SessionCreated");

export const sessionViewSchema = z
  .object({
    id: sessionFields.id,
    createdAt: z.iso.datetime().openapi({ example: "2026-12-07T10:00:00.000Z" }),
    lastUsedAt: z.iso.datetime().openapi({ description: "When the last cell was answered (createdAt before the first)", example: "2026-12-07T10:00:00.000Z" }),
    expiresAt: sessionFields.expiresAt,
    memoryMb: sessionFields.memoryMb,
    idleTimeoutMs: sessionFields.idleTimeoutMs,
    cells: z.number().int().openapi({ description: "Cells answered so far, whatever their outcome", example: 3 }),
  })
  .openapi("Session");

export const executeSuccessSchema = z
  .object({
    result: z.unknown().openapi({ description: "main()'s return value as strict JSON", example: { sum: 3 } }),
    ...outputFields,
    durationMs: z.number().int().openapi({ example: 21 }),
    ...artifactFields,
  })
  .openapi("ExecuteSuccess");

export const cellSuccessSchema = executeSuccessSchema
  .extend({
    result: z.unknown().openapi({
      description:
        "The value of the cell's last line when that is an expression, null otherwise. JSON when the value is JSON; else (a DataFrame, an array, NaN, ...) " +
        'its repr() as a string, with resultKind "repr"',
      example: 6,
    }),
    resultKind: z.enum(RESULT_KINDS).optional().openapi({ description: 'Present, "repr", when result is the text of repr(value), which is not JSON' }),
  })
  .openapi("CellSuccess");

export const errorSchema = z
  .object({
    error: z.string().openapi({ description: "What went wrong, for people", example: "No callable main() found in script" }),
    code: z.enum(ERROR_CODES).openapi({
      description: "Stable machine code; NOT_FOUND and METHOD_NOT_ALLOWED answer a path or a method that no operation has",
      example: "MAIN_NOT_FOUND",
    }),
    stdout: z.string(),
    stderr: z.string(),
    stdoutTruncated: z.boolean().optional(),
    stderrTruncated: z.boolean().optional(),
    traceback: z.string().optional().openapi({ description: "RUNTIME_ERROR and SYNTAX_ERROR: the script's own frames" }),
    durationMs: z.number().int().optional(),
    ...artifactFields,
    sessionEnded: z.boolean().optional().openapi({
      description: "A session's cell that ended its session (its memory limit, a kill, the process exited): later calls to it are SESSION_NOT_FOUND",
    }),
  })
  .openapi("Error");

export const healthSchema = z
  .object({
    status: z.literal("ok"),
    backend: z.string().openapi({ example: "nsjail" }),
    isolation: z.string().openapi({ description: "What the live backend isolates", example: "nsjail: namespaces, seccomp, cgroups" }),
    python: z.string().openapi({ example: "3.11.2" }),
    packages: z.record(z.string(), z.string()).openapi({
      description: "Every top-level package of the pinned package set, with the version the sandbox has",
      example: { matplotlib: "3.11.2", numpy: "2.4.6", pandas: "3.1.1" },
    }),
    cgroup: z
      .enum(["v1", "v2", "none"])
      .optional()
      .openapi({ description: "The cgroup version that limits the sandboxes (none: rlimits only)", example: "v2" }),
    sessions: z
      .object({ open: z.number().int(), max: z.number().int() })
      .optional()
      .openapi({ description: "Sessions open in this server now, and the most it keeps (MAX_SESSIONS)", example: { open: 2, max: 16 } }),
    limits: z
      .object({ memory: z.string(), processes: z.string(), cpuTime: z.string(), io: z.string() })
      .optional()
      .openapi({
        description: "What enforces each limit of a run: a cgroup controller or an rlimit",
        example: { memory: "cgroup (memory.max, memory.swap.max 0)", processes: "cgroup (pids.max)", cpuTime: "rlimit (RLIMIT_CPU)", io: "cgroup (io.max)" },
      }),
  })
  .openapi("Health");

export type ExecuteRequestBody = z.infer<ReturnType<typeof executeRequestSchema>>;
export type ExecuteSuccessBody = z.infer<typeof executeSuccessSchema>;
export type ErrorBody = z.infer<typeof errorSchema>;
export type SessionRequestBody = z.infer<ReturnType<typeof sessionRequestSchema>>;
export type CellRequestBody = z.infer<ReturnType<typeof cellRequestSchema>>;
export type SessionCreatedBody = z.infer<typeof sessionCreatedSchema>;
export type SessionViewBody = z.infer<typeof sessionViewSchema>;
export type HealthBody = z.infer<typeof healthSchema>;
