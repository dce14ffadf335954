import type { IncomingMessage, Server, ServerResponse } from "node:http";

/** The most of an unwanted request body read and discarded before the connection is cut instead. */
const LINGER_MAX_BYTES = 64 * 1024 * 1024;

/**
 * A response can be complete before its request body has arrived: a 413 judged on
 * Content-Length, a 401 or 415 judged on the headers. Closing the connection then, while the
 * client still sends, makes the client's kernel answer a reset, and a reset throws away the
 * response it had not read yet: the client sees EPIPE or ECONNRESET instead of its 413. So,
 * as nginx's lingering close does, the rest of the body is read and discarded, up to
 * `maxBytes`; the server's request timeout bounds how long that may take.
 */
export function lingerOnUnreadBodies(server: Pick<Server, "on">, maxBytes = LINGER_MAX_BYTES): void {
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    res.once("finish", () => {
      if (!req.complete) discardRest(req, maxBytes);
    });
  });
}

function discardRest(req: IncomingMessage, maxBytes: number): void {
  // Whoever started reading the body is done with it; its buffers must not fill with the rest.
  req.removeAllListeners("data");
  let discarded = 0;
  req.on("data", (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > maxBytes) req.socket.destroy();
  });
  req.resume();
}
