import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import type { Config } from "../config.js";
import { lingerOnUnreadBodies } from "./lingering-close.js";

type Fetch = Parameters<typeof serve>[0]["fetch"];
type ServerLimits = Pick<Config, "maxConnections" | "headersTimeoutMs" | "requestTimeoutMs" | "keepAliveTimeoutMs">;

/**
 * Serves the app over HTTP/1.1 with bounded connections: at most `maxConnections` open at
 * once (more are closed as they arrive, so clients that hold connections cannot use up the
 * file descriptors the sandboxes need), a client that is slow to send its headers or its
 * request is cut off with a 408, and an idle keep-alive connection is closed.
 */
export function serveApp(fetch: Fetch, listen: { port: number; host: string }, limits: ServerLimits, onListening?: (address: AddressInfo) => void): Server {
  const server = serve(
    {
      fetch,
      port: listen.port,
      hostname: listen.host,
      // lingerOnUnreadBodies drains unread bodies instead, bounded by the request timeout
      // rather than by @hono/node-server's 500 ms, which a loaded server or a slow client exceeds.
      autoCleanupIncoming: false,
      serverOptions: {
        headersTimeout: limits.headersTimeoutMs,
        requestTimeout: limits.requestTimeoutMs,
        keepAliveTimeout: limits.keepAliveTimeoutMs,
        // Node checks the two timeouts every 30 s by default: checking often keeps them to within a second.
        connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
      },
    },
    onListening,
  ) as Server;
  server.maxConnections = limits.maxConnections;
  lingerOnUnreadBodies(server);
  return server;
}
