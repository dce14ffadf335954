import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { lingerOnUnreadBodies } from "./lingering-close.js";

/**
 * A server that answers 413 after reading the first chunk of a body and nothing more, as
 * the body-limit middleware does with a chunked body; its unread rest is lingerOnUnreadBodies'.
 */
let server: Server | undefined;

async function refusingServer(maxBytes: number): Promise<number> {
  server = createServer((req, res) => {
    if (req.method === "GET") return void res.end("second");
    req.once("data", () => {
      req.pause();
      res.writeHead(413, { "content-type": "text/plain" }).end("too large");
    });
  });
  // No idle timeout: whatever ends a stalled connection here is lingerOnUnreadBodies.
  server.keepAliveTimeout = 0;
  lingerOnUnreadBodies(server, maxBytes);
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
});

/** Sends headers announcing `announced` bytes, then `sent` bytes of body (as fast as the server reads), then `after`. */
function client(port: number, announced: number, sent: number, after = "") {
  const socket = connect(port, "127.0.0.1");
  let received = "";
  let written = 0;
  socket.on("data", (chunk: Buffer) => (received += chunk.toString("latin1")));
  const closed = new Promise<string | undefined>((resolve) => {
    let error: string | undefined;
    socket.on("error", (e: NodeJS.ErrnoException) => (error = e.code));
    socket.on("close", () => resolve(error));
  });
  socket.write(`POST / HTTP/1.1\r\nHost: test\r\nContent-Length: ${announced}\r\n\r\n`);
  const chunk = Buffer.alloc(64 * 1024, "x");
  const send = () => {
    while (written < sent && !socket.destroyed) {
      const piece = chunk.subarray(0, Math.min(chunk.length, sent - written));
      written += piece.length;
      if (!socket.write(piece)) return void socket.once("drain", send);
    }
    if (!socket.destroyed) socket.write(after);
  };
  send();
  return { socket, received: () => received, written: () => written, closed };
}

describe("lingerOnUnreadBodies", () => {
  it("reads the rest of a body answered early, so the client's sending ends and the connection serves its next request", async () => {
    const port = await refusingServer(8 * 1024 * 1024);
    const size = 4 * 1024 * 1024;
    const c = client(port, size, size, "GET /next HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    expect(await c.closed).toBeUndefined();
    expect(c.received()).toMatch(/^HTTP\/1\.1 413 [\s\S]*too large[\s\S]*HTTP\/1\.1 200 [\s\S]*second$/);
  });

  it("cuts the connection once more than maxBytes of an unwanted body arrived", async () => {
    const port = await refusingServer(256 * 1024);
    const size = 1024 * 1024 * 1024;
    const c = client(port, size, size);
    await c.closed;
    expect(c.written()).toBeLessThan(size);
  });
});
