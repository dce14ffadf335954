import type { OpenAPIHono } from "@hono/zod-openapi";

/**
 * Where an OAuth client looks once a 401 has started MCP's authorization flow: RFC 9728's
 * protected-resource metadata (for /mcp, then at the root), RFC 8414's and OpenID's
 * authorization-server metadata, and the endpoints it falls back to without metadata.
 */
const OAUTH_PATHS = [
  "/.well-known/oauth-protected-resource",
  "/.well-known/oauth-protected-resource/*",
  "/.well-known/oauth-authorization-server",
  "/.well-known/oauth-authorization-server/*",
  "/.well-known/openid-configuration",
  "/.well-known/openid-configuration/*",
  "/register",
  "/authorize",
  "/token",
] as const;

export const NO_OAUTH =
  "This service does not use OAuth: configure the MCP client to send the header Authorization: Bearer <key>, with one of the service's API keys";

/**
 * This service takes API keys, not OAuth. Each OAuth path is a 404 in OAuth's own error format
 * (RFC 6749 section 5.2), whose description the client shows; the service's NOT_FOUND body reads
 * as an OAuth error with no description (the MCP SDK's client ended with an empty ServerError).
 */
export function refuseOAuth(app: OpenAPIHono): void {
  for (const path of OAUTH_PATHS) app.all(path, (c) => c.json({ error: "invalid_request", error_description: NO_OAUTH }, 404));
}
