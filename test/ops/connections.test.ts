/**
 * What clients can do to the server's connections, over real sockets: hold many of them open
 * with half-sent requests, send headers or bodies slowly, or keep sending a body the server
 * has already answered (a 413). The server is built as main.ts builds it (serveApp) around
 * the real app and the real subprocess sandbox; the timeouts are set short so that the tests
 * wait for events, never for a duration.
 */
import type { Server } from "node:http";
import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { composeApp } from "../../src/compose.js";
import { maxBodyBytes } from "../../src/http/execute.js";
import { serveApp } from "../../src/http/server.js";
import { until } from "../support/observing.js";
import { realSubprocessSandbox, silentLogger, testConfig } from "../support/real-app.js";

let server: Server | undefined;

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
});

/** The real server on a loopback port, configured by these variables; returns its base URL and port. */
async function start(env: Record<string, string>): Promise<{ url: string; port: number }> {
  const config = testConfig({ POOL_SIZE: "0", MAX_SCRIPT_BYTES: "1000", MAX_INPUT_FILES: "0", MAX_INPUT_FILES_BYTES: "0", ...env });
  const { app } = await composeApp(config, realSubprocessSandbox(config), { python: "test", packages: {} }, silentLogger);
  const port = await new Promise<number>((resolve) => {
    server = serveApp(app.fetch, { port: 0, host: "127.0.0.1" }, config, (address) => resolve(address.port));
  });
  return { url: `http://127.0.0.1:${port}`, port };
}

const connections = () => new Promise<number>((resolve, reject) => server!.getConnections((error, count) => (error ? reject(error) : resolve(count))));

/** A raw client connection: what it has received so far, and a promise of its closing. */
interface RawClient {
  readonly socket: Socket;
  readonly received: () => string;
  readonly closed: Promise<void>;
}

async function rawClient(port: number, firstBytes: string): Promise<RawClient> {
  const socket = connect(port, "127.0.0.1");
  let received = "";
  socket.on("data", (chunk: Buffer) => (received += chunk.toString("latin1")));
  socket.on("error", () => undefined); // a reset is one way of being closed
  const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  socket.write(firstBytes);
  return { socket, received: () => received, closed };
}

/** A request whose header block never ends. */
const HALF_SENT = "POST /execute HTTP/1.1\r\nHost: pyexec.test\r\nContent-Type: application/json\r\n";

describe("connections", () => {
  it("idle half-sent requests hold at most MAX_CONNECTIONS: further ones are closed unanswered, and a freed slot serves /health", async () => {
    const { url, port } = await start({ MAX_CONNECTIONS: "20", HEADERS_TIMEOUT_MS: "600000", REQUEST_TIMEOUT_MS: "600000" });
    const held = await Promise.all(Array.from({ length: 20 }, () => rawClient(port, HALF_SENT)));
    await until(async () => (await connections()) === 20);

    const extra = await Promise.all(Array.from({ length: 10 }, () => rawClient(port, HALF_SENT)));
    await Promise.all(extra.map((client) => client.closed));
    expect(extra.map((client) => client.received())).toEqual(Array(10).fill(""));
    expect(await connections()).toBe(20);
    expect(held.every((client) => !client.socket.destroyed)).toBe(true);

    held[0]!.socket.destroy();
    await until(async () => (await connections()) === 19);
    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: "ok" });
  });

  it("a client slow to send its headers is answered 408 and cut off, which frees its slot", async () => {
    const { url, port } = await start({ MAX_CONNECTIONS: "5", HEADERS_TIMEOUT_MS: "300", REQUEST_TIMEOUT_MS: "300" });
    const slow = await Promise.all(Array.from({ length: 5 }, () => rawClient(port, HALF_SENT)));
    await Promise.all(slow.map((client) => client.closed));
    for (const client of slow) expect(client.received()).toMatch(/^HTTP\/1\.1 408 /);
    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(200);
  });

  it("a client slow to send its body is answered 408 and cut off; the server goes on serving", async () => {
    const { url, port } = await start({ HEADERS_TIMEOUT_MS: "300", REQUEST_TIMEOUT_MS: "600" });
    const slow = await rawClient(
      port,
      'POST /execute HTTP/1.1\r\nHost: pyexec.test\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"script": ',
    );
    await slow.closed;
    expect(slow.received()).toMatch(/^HTTP\/1\.1 408 /);
    const res = await fetch(`${url}/execute`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ script: "def main():\n    return 'still serving'\n" }),
    });
    expect(await res.json()).toMatchObject({ result: "still serving" });
  });

  it("an idle keep-alive connection is closed after its answer", async () => {
    const { port } = await start({ KEEP_ALIVE_TIMEOUT_MS: "200" });
    const client = await rawClient(port, "GET /health HTTP/1.1\r\nHost: pyexec.test\r\n\r\n");
    await client.closed;
    expect(client.received()).toMatch(/^HTTP\/1\.1 200 /);
    expect(client.received()).toMatch(/keep-alive/i);
  });
});

describe("a body over the limit", () => {
  /** 2 MiB of JSON, well over the body limit, so the 413 is decided before most of it has arrived. */
  const LARGE = JSON.stringify({ script: "def main():\n    return 1\n", padding: "x".repeat(2 * 1024 * 1024) });

  /** POSTs the large body with Content-Length, or chunked (a stream, no length): the status read, or the error. */
  async function postLarge(url: string, chunked: boolean): Promise<string> {
    const bytes = new TextEncoder().encode(LARGE);
    let offset = 0;
    const body = chunked
      ? new ReadableStream<Uint8Array>({
          pull(controller) {
            if (offset >= bytes.length) return controller.close();
            controller.enqueue(bytes.subarray(offset, offset + 64 * 1024));
            offset += 64 * 1024;
          },
        })
      : bytes;
    try {
      const res = await fetch(`${url}/execute`, { method: "POST", headers: { "content-type": "application/json" }, body, duplex: "half" } as RequestInit);
      const parsed = (await res.json()) as { code?: string };
      return `${res.status} ${parsed.code}`;
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause;
      return `failed: ${cause?.code ?? String(error)}`;
    }
  }

  it("a client that stops sending a body answered 413 is disconnected when its request time is up", async () => {
    const { port } = await start({ HEADERS_TIMEOUT_MS: "300", REQUEST_TIMEOUT_MS: "600", KEEP_ALIVE_TIMEOUT_MS: "600000" });
    const stalled = await rawClient(
      port,
      `POST /execute HTTP/1.1\r\nHost: pyexec.test\r\nContent-Type: application/json\r\nContent-Length: ${LARGE.length}\r\n\r\n${LARGE.slice(0, 1000)}`,
    );
    await stalled.closed;
    expect(stalled.received()).toMatch(/^HTTP\/1\.1 413 [\s\S]*PAYLOAD_TOO_LARGE/);
  });

  it("every client reads its 413, also while the server is busy and the client still sends: none sees EPIPE or ECONNRESET", async () => {
    const { url } = await start({});
    expect(LARGE.length).toBeGreaterThan(maxBodyBytes({ maxScriptBytes: 1000, maxInputFiles: 0, maxInputFilesBytes: 0 }));
    let loading = true;
    const load = (async () => {
      let runs = 0;
      while (loading) {
        const res = await fetch(`${url}/execute`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ script: "def main():\n    return sum(range(100000))\n" }),
        });
        expect(await res.json()).toMatchObject({ result: 4999950000 });
        runs++;
      }
      return runs;
    })();
    // Four clients, each sending 20 large bodies in a row, half of them chunked.
    const outcomes = (
      await Promise.all(
        Array.from({ length: 4 }, async (_, client) => {
          const seen: string[] = [];
          for (let i = 0; i < 20; i++) seen.push(await postLarge(url, client % 2 === 1));
          return seen;
        }),
      )
    ).flat();
    loading = false;
    expect(await load).toBeGreaterThan(0);
    expect(outcomes).toEqual(Array(80).fill("413 PAYLOAD_TOO_LARGE"));
  });
});
