import { createRoute, z } from "@hono/zod-openapi";
import { type ErrorCode, ROUTING_ERROR_CODES } from "./error-codes.js";
import { ERROR_EXAMPLES } from "./error-examples.js";
import { CELL_REQUEST_EXAMPLES, CELL_SUCCESS_EXAMPLES, REQUEST_EXAMPLES, SESSION_REQUEST_EXAMPLES, SUCCESS_EXAMPLES } from "./request-examples.js";
import type { ErrorBody } from "./schemas.js";
import {
  cellRequestSchema,
  cellSuccessSchema,
  errorSchema,
  executeHeadersSchema,
  executeRequestSchema,
  executeSuccessSchema,
  healthSchema,
  type RequestLimits,
  type SessionRequestLimits,
  sessionCreatedSchema,
  sessionIdParamsSchema,
  sessionRequestSchema,
  sessionViewSchema,
} from "./schemas.js";
import { STATUS_BY_CODE } from "./status-by-code.js";

const STATUS_DESCRIPTIONS: Record<number, string> = {
  400: "The request or the script failed (see code)",
  401: "Auth is on and the API key is missing or wrong",
  404: "No such session: it never existed, has ended or expired, or belongs to another API key (start a new one)",
  408: "The script hit its wall-clock limit",
  409: "A cell is already running in this session",
  413: "The script, the body or the input files are over the configured maximum",
  415: "The body is not application/json",
  422: "The Idempotency-Key was sent before with another request (path or body)",
  429: "All sandboxes are busy and the queue is full, or every session this server keeps is open; see Retry-After",
  499: "The client went away before the answer: the request left the queue or its run was stopped (seen only in logs and metrics)",
  500: "A bug in the service",
  503: "The sandbox backend cannot start sandboxes",
};

const SESSION_CODES: readonly ErrorCode[] = ["SESSION_NOT_FOUND", "SESSION_BUSY", "SESSION_LIMIT"];
/** Codes of a script's main() and its args, which a cell has neither of (a cell's value that is not JSON is its repr). */
const MAIN_CODES: readonly ErrorCode[] = ["INVALID_ARGS", "MAIN_NOT_FOUND", "RESULT_NOT_JSON"];
/** What every operation behind the API key may answer before it does anything. */
const ANY_OPERATION_CODES: readonly ErrorCode[] = ["UNAUTHORIZED", "INTERNAL"];

const operationCodes = (keep: (code: ErrorCode) => boolean): readonly ErrorCode[] =>
  (Object.keys(STATUS_BY_CODE) as ErrorCode[]).filter((code) => !ROUTING_ERROR_CODES.includes(code) && keep(code));

/** POST /execute's codes: all but the sessions'. */
const EXECUTE_CODES = operationCodes((code) => !SESSION_CODES.includes(code));
/** POST /sessions's: a body refused, or no session opened. */
const OPEN_SESSION_CODES = operationCodes((code) =>
  [
    "INVALID_REQUEST",
    "UNSUPPORTED_MEDIA_TYPE",
    "PAYLOAD_TOO_LARGE",
    "SESSION_LIMIT",
    "IDEMPOTENCY_KEY_REUSED",
    "BUSY",
    "SANDBOX_UNAVAILABLE",
    "CANCELLED",
    ...ANY_OPERATION_CODES,
  ].includes(code),
);
/** POST /sessions/{id}/execute's: a script's, less main()'s, and the session's own. */
const CELL_CODES = operationCodes((code) => !MAIN_CODES.includes(code) && code !== "SESSION_LIMIT");
/** GET and DELETE /sessions/{id}'s. */
const SESSION_LOOKUP_CODES = operationCodes((code) => ["SESSION_NOT_FOUND", ...ANY_OPERATION_CODES].includes(code));

/** Every error status an operation answers (the codes it can carry), with an example for each code; `examples` replace the shared ones. */
function errorResponses(codes: readonly ErrorCode[], examples: Partial<Record<ErrorCode, ErrorBody>> = {}) {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) {
    const status = STATUS_BY_CODE[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return Object.fromEntries(
    [...byStatus].map(([status, codes]) => [
      status,
      {
        description: `${STATUS_DESCRIPTIONS[status] ?? "Error"}: ${codes.join(", ")}`,
        content: {
          "application/json": {
            schema: errorSchema,
            examples: Object.fromEntries(codes.map((code) => [code, { value: examples[code] ?? ERROR_EXAMPLES[code] }])),
          },
        },
      },
    ]),
  );
}

export const executeRoute = (limits: RequestLimits) =>
  createRoute({
    method: "post",
    path: "/execute",
    summary: "Run a Python script and return main()'s result",
    description:
      "Runs the script in a fresh sandbox, with the request's files in its work dir, calls its main(**args) (no arguments without args) " +
      "and answers with the JSON return value, the captured stdout/stderr, and the files and matplotlib figures the run produced.",
    request: {
      headers: executeHeadersSchema,
      body: { required: true, content: { "application/json": { schema: executeRequestSchema(limits), examples: REQUEST_EXAMPLES } } },
    },
    responses: {
      200: {
        description: "main() returned a JSON value",
        content: { "application/json": { schema: executeSuccessSchema, examples: SUCCESS_EXAMPLES } },
      },
      ...errorResponses(EXECUTE_CODES),
    },
  });

/** A cell's failures that end the session say so. */
const CELL_ERROR_EXAMPLES: Partial<Record<ErrorCode, ErrorBody>> = {
  MEMORY_LIMIT_EXCEEDED: { ...ERROR_EXAMPLES.MEMORY_LIMIT_EXCEEDED, sessionEnded: true },
  TIMEOUT: {
    ...ERROR_EXAMPLES.TIMEOUT,
    error: "The cell was interrupted at its time limit of 5000 ms; the session keeps its state",
  },
};

export const openSessionRoute = (limits: SessionRequestLimits) =>
  createRoute({
    method: "post",
    path: "/sessions",
    summary: "Start a session: a Python that keeps its state between cells",
    description:
      "Starts a sandboxed Python kept alive for cells (POST /sessions/{id}/execute): variables, imports, functions and the work dir's files persist " +
      "from one cell to the next. A session ends when deleted, after idleTimeoutMs without a cell, at its maximum age (SESSION_MAX_AGE_MS), when a cell " +
      "ends it (its memory limit, os._exit) and when the server shuts down; then its id is SESSION_NOT_FOUND. A session lives in the server replica " +
      "that started it and belongs to the API key that started it.",
    request: {
      headers: executeHeadersSchema,
      body: { required: true, content: { "application/json": { schema: sessionRequestSchema(limits), examples: SESSION_REQUEST_EXAMPLES } } },
    },
    responses: {
      201: {
        description: "The session is ready for its first cell",
        headers: z.object({ Location: z.string().openapi({ description: "The session's path, /sessions/{id}", example: "/sessions/hV3k9Qm2xR7tL0aB4cD8eF" }) }),
        content: { "application/json": { schema: sessionCreatedSchema } },
      },
      ...errorResponses(OPEN_SESSION_CODES),
    },
  });

export const runCellRoute = (limits: RequestLimits) =>
  createRoute({
    method: "post",
    path: "/sessions/{id}/execute",
    summary: "Run a cell in a session",
    description:
      "Runs the code as a notebook cell in the session's one namespace: it sees what earlier cells defined, and its result is the value of its last " +
      "line when that is an expression. The input files are written first; the files and figures answered are those this cell created or changed. " +
      "Cells of one session run one at a time (SESSION_BUSY). A failure that ended the session says so with sessionEnded: true.",
    request: {
      headers: executeHeadersSchema,
      params: sessionIdParamsSchema,
      body: { required: true, content: { "application/json": { schema: cellRequestSchema(limits), examples: CELL_REQUEST_EXAMPLES } } },
    },
    responses: {
      200: {
        description: "The cell ran to its end",
        content: { "application/json": { schema: cellSuccessSchema, examples: CELL_SUCCESS_EXAMPLES } },
      },
      ...errorResponses(CELL_CODES, CELL_ERROR_EXAMPLES),
    },
  });

export const viewSessionRoute = createRoute({
  method: "get",
  path: "/sessions/{id}",
  summary: "A session's state: when it started, was last used and expires, and how many cells it ran",
  request: { params: sessionIdParamsSchema },
  responses: {
    200: { description: "The session is open", content: { "application/json": { schema: sessionViewSchema } } },
    ...errorResponses(SESSION_LOOKUP_CODES),
  },
});

export const deleteSessionRoute = createRoute({
  method: "delete",
  path: "/sessions/{id}",
  summary: "End a session",
  description: "Ends the session; its processes are gone when this answers.",
  request: { params: sessionIdParamsSchema },
  responses: {
    204: { description: "The session has ended" },
    ...errorResponses(SESSION_LOOKUP_CODES),
  },
});

export const healthRoute = createRoute({
  method: "get",
  path: "/health",
  summary: "Liveness, the live sandbox backend and the Python runtime",
  responses: {
    200: { description: "The service is up", content: { "application/json": { schema: healthSchema } } },
  },
});

export const metricsRoute = createRoute({
  method: "get",
  path: "/metrics",
  summary: "Prometheus metrics: executions by outcome code, durations, queue depth, running sandboxes",
  description: "The Prometheus text exposition format. Behind the same API key as /execute when API_KEYS is set.",
  responses: {
    200: {
      description: "The current metrics",
      content: {
        "text/plain": {
          schema: z.string().openapi({ example: '# TYPE pyexec_executions_total counter\npyexec_executions_total{code="OK"} 3\n' }),
        },
      },
    },
    401: {
      description: STATUS_DESCRIPTIONS[401] ?? "Unauthorized",
      content: { "application/json": { schema: errorSchema, examples: { UNAUTHORIZED: { value: ERROR_EXAMPLES.UNAUTHORIZED } } } },
    },
  },
});
