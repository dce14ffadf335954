import type { OpenAPIHono, RouteConfig } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import type { ExecutionFailure } from "../../domain/execution-result.js";
import type { Result } from "../../domain/result.js";
import type { SandboxOutcome } from "../../domain/sandbox.port.js";
import type { Cell } from "../../domain/session.port.js";
import { type SessionRequest, type SessionView, sessionNotFound } from "../../domain/sessions.use-case.js";
import { deleteSessionRoute, openSessionRoute, runCellRoute, viewSessionRoute } from "../../openapi/routes.js";
import type { SessionCreatedBody, SessionRequestLimits, SessionViewBody } from "../../openapi/schemas.js";
import { type BodyLimits, executeBodyChecks, overByteLimits } from "./execute.js";
import { errorResponse, failureResponse, successResponse } from "./responses.js";

/** What the HTTP edge asks of the sessions (domain/sessions.use-case.ts's Sessions, as compose.ts wraps it). */
export interface SessionsApi {
  create(owner: string, request: SessionRequest, signal?: AbortSignal): Promise<Result<SessionView, ExecutionFailure>>;
  view(owner: string, id: string): SessionView | undefined;
  execute(owner: string, id: string, cell: Cell, signal?: AbortSignal): Promise<SandboxOutcome>;
  delete(owner: string, id: string): Promise<boolean>;
}

export interface SessionLimits extends SessionRequestLimits, BodyLimits {}

/** The idle timeout of a session that names none: 10 minutes, or SESSION_MAX_IDLE_MS when that is less. */
export const DEFAULT_IDLE_TIMEOUT_MS = 600_000;

export const defaultIdleMs = (maxIdleMs: number): number => Math.min(DEFAULT_IDLE_TIMEOUT_MS, maxIdleMs);

const iso = (epochMs: number): string => new Date(epochMs).toISOString();

/** POST /sessions's 201 body. */
export const createdBody = (view: SessionView): SessionCreatedBody => ({
  id: view.id,
  expiresAt: iso(view.expiresAt),
  memoryMb: view.memoryMb,
  idleTimeoutMs: view.idleTimeoutMs,
});

/** GET /sessions/{id}'s body. */
export const viewBody = (view: SessionView): SessionViewBody => ({
  id: view.id,
  createdAt: iso(view.createdAt),
  lastUsedAt: iso(view.lastUsedAt),
  expiresAt: iso(view.expiresAt),
  memoryMb: view.memoryMb,
  idleTimeoutMs: view.idleTimeoutMs,
  cells: view.cells,
});

const notFound = (id: string): Response => failureResponse(sessionNotFound(id));

/**
 * The session routes, each behind the API key (`secure`), the POSTs with /execute's body checks
 * (JSON only, the same size cap, the same nesting cap). `ownerOf` says whose a request's sessions
 * are: another owner's session is a 404, never a 403, so an id tells nobody else it exists.
 */
export function installSessionRoutes(
  app: OpenAPIHono,
  secure: <R extends RouteConfig>(route: R) => R,
  deps: {
    readonly sessions: SessionsApi;
    readonly limits: SessionLimits;
    readonly ownerOf: (c: Context) => string;
    /** Makes the POSTs safe to send again with an Idempotency-Key (idempotency.ts). */
    readonly idempotent?: MiddlewareHandler;
  },
): void {
  const { sessions, limits, ownerOf, idempotent } = deps;
  for (const path of ["/sessions", "/sessions/:id/execute"]) {
    app.post(path, ...executeBodyChecks(limits));
    if (idempotent) app.post(path, idempotent);
  }

  app.openapi(secure(openSessionRoute(limits)), async (c) => {
    const body = c.req.valid("json");
    const overLimit = overByteLimits({ files: body.files }, limits);
    if (overLimit) return errorResponse(overLimit.code, overLimit.message) as never;
    const request: SessionRequest = {
      memoryMb: body.memoryMb ?? limits.maxMemoryMb,
      idleTimeoutMs: body.idleTimeoutMs ?? limits.defaultIdleMs,
      ...(body.files === undefined ? {} : { files: body.files }),
    };
    const created = await sessions.create(ownerOf(c), request, c.req.raw.signal);
    if (!created.ok) return failureResponse(created.error) as never;
    return c.json(createdBody(created.value), 201, { Location: `/sessions/${encodeURIComponent(created.value.id)}` });
  });

  app.openapi(secure(runCellRoute(limits)), async (c) => {
    const { id } = c.req.valid("param");
    const body = c.req.valid("json");
    const overLimit = overByteLimits({ what: "code", text: body.code, files: body.files }, limits);
    if (overLimit) return errorResponse(overLimit.code, overLimit.message) as never;
    const cell: Cell = { code: body.code, timeoutMs: body.timeoutMs ?? limits.maxTimeoutMs, ...(body.files === undefined ? {} : { files: body.files }) };
    const outcome = await sessions.execute(ownerOf(c), id, cell, c.req.raw.signal);
    return (outcome.ok ? successResponse(outcome.value) : failureResponse(outcome.error)) as never;
  });

  app.openapi(secure(viewSessionRoute), (c) => {
    const { id } = c.req.valid("param");
    const view = sessions.view(ownerOf(c), id);
    return (view === undefined ? notFound(id) : c.json(viewBody(view), 200)) as never;
  });

  app.openapi(secure(deleteSessionRoute), async (c) => {
    const { id } = c.req.valid("param");
    const deleted = await sessions.delete(ownerOf(c), id);
    return (deleted ? c.body(null, 204) : notFound(id)) as never;
  });
}
