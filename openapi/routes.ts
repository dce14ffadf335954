import { createRoute, z } from "@hono/zod-openapi";
import { type ErrorCode, ROUTING_ERROR_CODES } from "./error-codes.js";
import { ERROR_EXAMPLES } from "./error-examples.js";
import { REQUEST_EXAMPLES, SUCCESS_EXAMPLES } from "./request-examples.js";
import { errorSchema, executeHeadersSchema, executeRequestSchema, executeSuccessSchema, healthSchema, type RequestLimits } from "./schemas.js";
import { STATUS_BY_CODE } from "./status-by-code.js";

const STATUS_DESCRIPTIONS: Record<number, string> = {
  400: "The request or the script failed (see code)",
  401: "Auth is on and the API key is missing or wrong",
  408: "The script hit its wall-clock limit",
  413: "The script, the body or the input files are over the configured maximum",
  415: "The body is not application/json",
  422: "The Idempotency-Key was sent before with another request body",
  429: "All sandboxes are busy and the queue is full; see Retry-After",
  499: "The client went away before the answer: the request left the queue or its run was stopped (seen only in logs and metrics)",
  500: "A bug in the service",
  503: "The sandbox backend cannot start sandboxes",
};

/** Every error status an operation can answer, with an example for each code it carries. */
function errorResponses() {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const [code, status] of Object.entries(STATUS_BY_CODE) as [ErrorCode, number][]) {
    if (ROUTING_ERROR_CODES.includes(code)) continue;
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
            examples: Object.fromEntries(codes.map((code) => [code, { value: ERROR_EXAMPLES[code] }])),
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
      ...errorResponses(),
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
