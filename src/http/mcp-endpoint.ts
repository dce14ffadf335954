import { StreamableHTTPTransport } from "@hono/mcp";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { STATUS_BY_CODE } from "../../openapi/status-by-code.js";
import { shallowBodies } from "./execute.js";
import { errorResponse } from "./responses.js";

const MCP_PATH = "/mcp";
const CLIENT_GONE = STATUS_BY_CODE.CANCELLED;

/**
 * The MCP endpoint: Streamable HTTP, stateless. Each POST gets an MCP server and a transport of
 * its own (JSON-RPC ids are only unique within one client, so two clients must never share a
 * transport), answered with plain JSON rather than an event stream, and closed once answered.
 * There are no MCP sessions to resume and no server-initiated messages, so GET and DELETE are 405
 * (the app's handler for a known path with another method). A client that closes its connection
 * first closes the server, which aborts its tool call's signal and so cancels the run. An MCP
 * notifications/cancelled cannot: it comes in a POST of its own, to a server that never saw the call.
 * Each server knows whose sessions its calls may use: the owner `ownerOf` reads from the request
 * (its API key), so a session is the same for the MCP tools and the HTTP routes.
 */
export function installMcpEndpoint(
  app: OpenAPIHono,
  deps: { newServer: (requestId: string, owner: string) => McpServer; ownerOf: (c: Context) => string; maxBodyBytes: number },
): void {
  app.post(
    MCP_PATH,
    bodyLimit({
      maxSize: deps.maxBodyBytes,
      onError: () => errorResponse("PAYLOAD_TOO_LARGE", `The request body is over the limit of ${deps.maxBodyBytes} bytes`),
    }),
    shallowBodies,
    async (c) => {
      const signal = c.req.raw.signal;
      if (signal.aborted) return new Response(null, { status: CLIENT_GONE });
      const server = deps.newServer(c.get("requestId"), deps.ownerOf(c));
      const transport = new StreamableHTTPTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      await server.connect(transport);
      // The transport never answers a call its closed server has given up: the answer is this.
      const gone = Promise.withResolvers<Response>();
      const close = () => {
        void server.close();
        gone.resolve(new Response(null, { status: CLIENT_GONE }));
      };
      signal.addEventListener("abort", close, { once: true });
      // Gone while the server was connecting: the listener came too late to hear it.
      if (signal.aborted) close();
      try {
        const response = await Promise.race([transport.handleRequest(c), gone.promise]);
        if (!response) throw new Error("the MCP transport returned no response");
        return response;
      } catch (error) {
        // The transport refuses a bad Accept, Content-Type or JSON-RPC body with a JSON-RPC error response.
        if (error instanceof HTTPException) return error.getResponse();
        throw error;
      } finally {
        signal.removeEventListener("abort", close);
        await server.close();
      }
    },
  );
}
