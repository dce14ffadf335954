import type { AddressInfo } from "node:net";
import { type ServerType, serve } from "@hono/node-server";

/** An app served on a free loopback port, for clients that need real HTTP (a browser, an MCP client). */
export interface Listening {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

export async function listen(app: { fetch: (request: Request) => Response | Promise<Response> }): Promise<Listening> {
  const server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    // A browser or client still open holds keep-alive connections that close() alone waits for.
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        if ("closeAllConnections" in server) server.closeAllConnections();
      }),
  };
}
