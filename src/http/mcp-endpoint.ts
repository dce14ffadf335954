import { StreamableHTTPTransport } from "@hono/mcp";
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { errorResponse } from "./responses.js";

const MCP_PATH = "/mcp";

/**
 * The MCP endpoint: Streamable HTTP, stateless. Each POST gets an MCP server and a transport of
 * its own (JSON-RPC ids are only unique within one client, so two clients must never share a
 * transport), answered with plain JSON rather than an event stream, and closed once answered.
 * There are no sessions to resume and no server-initiated messages, so GET and DELETE are 405
 * (the app's handler for a known path with another method). A client that closes its connection
 * first closes the server, which aborts its tool call's signal and so cancels the run.
 */
export function installMcpEndpoint(app: OpenAPIHono, deps: { newServer: (requestId: string) => McpServer; maxBodyBytes: number }): void {
  app.post(
    MCP_PATH,
    bodyLimit({
      maxSize: deps.maxBodyBytes,
      onError: () => errorResponse("PAYLOAD_TOO_LARGE", `The request body is over the limit of ${deps.maxBodyBytes} bytes`),
    }),
    async (c) => {
      const server = deps.newServer(c.get("requestId"));
      const transport = new StreamableHTTPTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      await server.connect(transport);
      const signal = c.req.raw.signal;
      // The transport never answers a call its closed server has given up: the answer is this.
      const gone = new Promise<Response>((resolve) => {
        const close = () => {
          void server.close();
          resolve(new Response(null, { status: 499 }));
        };
        if (signal.aborted) close();
        else signal.addEventListener("abort", close, { once: true });
      });
      try {
        const response = await Promise.race([transport.handleRequest(c), gone]);
        if (!response) throw new Error("the MCP transport returned no response");
        return response;
      } catch (error) {
        // The transport refuses a bad Accept, Content-Type or JSON-RPC body with a JSON-RPC error response.
        if (error instanceof HTTPException) return error.getResponse();
        throw error;
      } finally {
        await server.close();
      }
    },
  );
}
