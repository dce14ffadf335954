/**
 * An MCP client that answers a 401 with OAuth (the MCP authorization flow), as the official
 * client does when it is given an OAuth provider, against the real app with API keys on: what it
 * asks for, what it is answered, and the error it ends with.
 */

import type { OAuthClientProvider } from "@modelcontextprotocol/sdk/client/auth.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NO_OAUTH } from "../../src/http/no-oauth.js";
import { type Served, serveApp } from "../support/real-app.js";

const KEY = "mcp-oauth-test-key-0123";
const REDIRECT = "http://127.0.0.1:1/callback";

/** A client that has nothing yet: no registration, no token, as on its first connection. */
const freshOAuthClient: OAuthClientProvider = {
  redirectUrl: REDIRECT,
  clientMetadata: { redirect_uris: [REDIRECT], client_name: "mcp-oauth-test" },
  clientInformation: () => undefined,
  saveClientInformation: () => {},
  tokens: () => undefined,
  saveTokens: () => {},
  redirectToAuthorization: () => {},
  saveCodeVerifier: () => {},
  codeVerifier: () => "",
};

describe("an MCP client that starts OAuth on a 401", () => {
  let served: Served;

  beforeAll(async () => {
    served = await serveApp({ API_KEYS: KEY });
  });
  afterAll(async () => {
    await served?.close();
  });

  it("is told, at the end of its discovery, that the service takes an API key and not OAuth", async () => {
    const exchanges: string[] = [];
    let challenge: string | null = null;
    const recording = async (url: string | URL, init?: RequestInit): Promise<Response> => {
      const response = await fetch(url, init);
      if (response.status === 401) challenge = response.headers.get("www-authenticate");
      exchanges.push(`${init?.method ?? "GET"} ${new URL(url).pathname} ${response.status}`);
      // The server in this process replaced the global Response (@hono/node-server): the client's
      // `instanceof Response` holds only for one made by that class, as it does in a process of its own.
      return new Response(response.body, response);
    };
    const client = new Client({ name: "mcp-oauth-test", version: "1.0.0" });
    const transport = new StreamableHTTPClientTransport(new URL("/mcp", served.listening.url), { authProvider: freshOAuthClient, fetch: recording });

    const refused = await client.connect(transport).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(Error);
    expect((refused as Error).message).toBe(NO_OAUTH);
    expect(challenge).toBe('Bearer realm="python-exec"');
    expect(exchanges).toEqual([
      "POST /mcp 401",
      "GET /.well-known/oauth-protected-resource/mcp 404",
      "GET /.well-known/oauth-protected-resource 404",
      "GET /.well-known/oauth-authorization-server 404",
      "GET /.well-known/openid-configuration 404",
      "POST /register 404",
    ]);
  });

  it("connects with the key in its Authorization header, and never starts OAuth", async () => {
    const exchanges: string[] = [];
    const recording = async (url: string | URL, init?: RequestInit): Promise<Response> => {
      const response = await fetch(url, init);
      exchanges.push(`${init?.method ?? "GET"} ${new URL(url).pathname} ${response.status}`);
      return new Response(response.body, response);
    };
    const client = new Client({ name: "mcp-oauth-test", version: "1.0.0" });
    await client.connect(
      new StreamableHTTPClientTransport(new URL("/mcp", served.listening.url), {
        authProvider: freshOAuthClient,
        fetch: recording,
        requestInit: { headers: { authorization: `Bearer ${KEY}` } },
      }),
    );
    expect((await client.listTools()).tools.map((tool) => tool.name)).toEqual(["run_python", "start_session", "end_session"]);
    await client.close();
    // Only /mcp, never refused: no discovery, no registration.
    expect(exchanges.filter((exchange) => !/^\w+ \/mcp (?!401)\d+$/.test(exchange))).toEqual([]);
  });
});
