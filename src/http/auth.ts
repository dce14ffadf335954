import { createHash, timingSafeEqual } from "node:crypto";
import type { OpenAPIHono, RouteConfig } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import { errorResponse } from "./responses.js";

/** The name of the bearer scheme in the OpenAPI document (components.securitySchemes). */
const BEARER_SCHEME = "bearerAuth";

const bearerSecurityScheme = {
  type: "http",
  scheme: "bearer",
  description: "One of the server's API keys (API_KEYS), sent as `Authorization: Bearer <key>`.",
} as const;

type AuthRejection = "missing" | "invalid";

/** A request refused for a missing or wrong key (never with the key). */
export interface UnauthorizedEvent {
  readonly requestId: string;
  readonly method: string;
  readonly path: string;
  readonly reason: AuthRejection;
}

/** Paths behind the API key; /health (probes), /docs and /openapi.json stay open. */
const PROTECTED_PATHS = ["/execute", "/sessions", "/sessions/*", "/mcp", "/metrics"] as const;

const digest = (value: string): Buffer => createHash("sha256").update(value, "utf8").digest();

/** `Bearer <token>`, the scheme case-insensitive (RFC 7235); anything else is no credential. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer +([^ ]+) *$/i.exec(header ?? "");
  return match?.[1];
}

/**
 * Whose a request's sessions are, by its Authorization header: with keys, the key it got past
 * auth with (as a digest: the key itself is kept nowhere); without keys, everyone's, "".
 */
export function ownerOfRequests(keys: readonly string[]): (authorization: string | undefined) => string {
  if (keys.length === 0) return () => "";
  return (authorization) => {
    const token = bearerToken(authorization);
    return token === undefined ? "" : digest(token).toString("hex");
  };
}

/**
 * True when `token` is one of `keys`. Both sides are hashed first, so every comparison is
 * between equal-length digests (timingSafeEqual needs that) and neither a key's length nor
 * its content leaks through timing; every key is compared, whichever matches.
 */
function keyMatcher(keys: readonly string[]): (token: string) => boolean {
  const digests = keys.map(digest);
  return (token) => {
    const presented = digest(token);
    let match = false;
    for (const key of digests) match = timingSafeEqual(presented, key) || match;
    return match;
  };
}

/**
 * Requires `Authorization: Bearer <key>` with one of `keys`. A missing or wrong key is a 401
 * UNAUTHORIZED error body with `WWW-Authenticate: Bearer` (RFC 6750); the key is never logged.
 */
function bearerAuth(keys: readonly string[], onRejected?: (reason: AuthRejection, c: Context) => void): MiddlewareHandler {
  if (keys.length === 0) throw new Error("bearerAuth needs at least one key");
  const matches = keyMatcher(keys);
  return async (c, next) => {
    const token = bearerToken(c.req.header("authorization"));
    if (token !== undefined && matches(token)) {
      await next();
      return;
    }
    const reason: AuthRejection = token === undefined ? "missing" : "invalid";
    onRejected?.(reason, c);
    const response = errorResponse("UNAUTHORIZED", "A valid API key is required: send Authorization: Bearer <key>");
    response.headers.set("www-authenticate", reason === "missing" ? 'Bearer realm="python-exec"' : 'Bearer realm="python-exec", error="invalid_token"');
    return response;
  };
}

/**
 * With keys, puts `bearerAuth` in front of the protected paths (call it before anything reads a
 * body) and declares the scheme in the OpenAPI document. Returns `secure`, which marks a route
 * as needing the key in that document when auth is on; with no keys every path is open.
 */
export function requireApiKeys(
  app: OpenAPIHono,
  keys: readonly string[],
  onUnauthorized?: (event: UnauthorizedEvent) => void,
): <R extends RouteConfig>(route: R) => R {
  if (keys.length === 0) return (route) => route;
  const auth = bearerAuth(keys, (reason, c) => onUnauthorized?.({ requestId: c.get("requestId"), method: c.req.method, path: c.req.path, reason }));
  for (const path of PROTECTED_PATHS) app.use(path, auth);
  app.openAPIRegistry.registerComponent("securitySchemes", BEARER_SCHEME, bearerSecurityScheme);
  return (route) => ({ ...route, security: [{ [BEARER_SCHEME]: [] }] });
}
