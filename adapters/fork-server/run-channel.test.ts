import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { STARTED_TEXT } from "../python/protocol-facts.js";
import { RunChannel } from "./run-channel.js";

let dir: string | undefined;
const channels: RunChannel[] = [];
afterEach(async () => {
  await Promise.all(channels.splice(0).map((channel) => channel.close()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function open(): Promise<{ channel: RunChannel; path: string }> {
  dir = mkdtempSync(join(tmpdir(), "run-channel-"));
  const path = join(dir, "run-1");
  const channel = await RunChannel.open(path, { maxOutputBytes: 16, maxReportBytes: 64 });
  channels.push(channel);
  return { channel, path };
}

/** One connection as the run's process makes it: the tag byte first. */
async function connection(path: string, tag: string): Promise<Socket> {
  const socket = connect(path);
  socket.on("error", () => undefined);
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  socket.write(tag);
  return socket;
}

/** All five of a run's connections. */
async function runConnections(path: string) {
  const [control, stdin, stdout, stderr, result] = await Promise.all(["c", "0", "1", "2", "3"].map((tag) => connection(path, tag)));
  return { control: control!, stdin: stdin!, stdout: stdout!, stderr: stderr!, result: result! };
}

const received = (socket: Socket) =>
  new Promise<string>((resolve) => {
    let text = "";
    socket.on("data", (chunk: Buffer) => (text += chunk.toString()));
    socket.on("end", () => resolve(text));
  });

describe("RunChannel", () => {
  it("is connected once all five connections are in, and then takes no other connection", async () => {
    const { channel, path } = await open();
    let connected = false;
    void channel.connected.then(() => (connected = true));
    const [control, stdin, stdout, stderr] = await Promise.all(["c", "0", "1", "2"].map((tag) => connection(path, tag)));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(connected).toBe(false);
    await connection(path, "3");
    await channel.connected;
    expect(existsSync(path)).toBe(false);
    for (const socket of [control, stdin, stdout, stderr]) socket!.destroy();
  });

  it('says "go" on the control channel, hands over the request on stdin, then reads each stream apart, capped', async () => {
    const { channel, path } = await open();
    const run = await runConnections(path);
    const control = received(run.control);
    const stdin = received(run.stdin);
    await channel.connected;
    channel.go();
    channel.handOver(new TextEncoder().encode('{"script": "x"}'));
    expect(await stdin).toBe('{"script": "x"}');
    run.control.write('{"ready": true}\n');
    expect(await channel.setup).toEqual({ ready: true });
    run.control.end(`${STARTED_TEXT}\n`);
    expect(await channel.started).toBe(true);
    run.stdout.end("out: more than sixteen bytes");
    run.stderr.end("err");
    run.result.end('{"status":"ok"}\n1');
    await channel.drain(5000);
    expect(channel.stdout.text()).toBe("out: more than s");
    expect(channel.stdout.truncated).toBe(true);
    expect(channel.stderr.text()).toBe("err");
    expect(new TextDecoder().decode(channel.report.bytes())).toBe('{"status":"ok"}\n1');
    await channel.close();
    expect(await control).toBe("go\n");
  });

  it("tells a failed set-up, and a run that closed its control channel without a word, from a ready one", async () => {
    for (const [line, setup] of [
      ['{"error": "OSError: unshare"}\n', { failed: "OSError: unshare" }],
      ["", { failed: "the run ended during its set-up", silent: true }],
      ["not json\n", { failed: "unreadable set-up message: not json" }],
    ] as const) {
      const { channel, path } = await open();
      const run = await runConnections(path);
      await channel.connected;
      run.control.end(line);
      expect(await channel.setup).toEqual(setup);
      await channel.close();
      rmSync(dir!, { recursive: true, force: true });
    }
  });

  it("tells a run that closed its control channel before it said it had read its request (its script never started)", async () => {
    const { channel, path } = await open();
    const run = await runConnections(path);
    await channel.connected;
    run.control.end('{"ready": true}\n');
    expect(await channel.setup).toEqual({ ready: true });
    expect(await channel.started).toBe(false);
    await channel.close();
  });

  it("refuses a second connection with a tag already taken, and an unknown tag", async () => {
    const { channel, path } = await open();
    const first = await connection(path, "1");
    const again = await connection(path, "1");
    const unknown = await connection(path, "x");
    const closed = (socket: Socket) => new Promise<void>((resolve) => socket.once("close", () => resolve()));
    await Promise.all([closed(again), closed(unknown)]);
    expect(first.destroyed).toBe(false);
    await channel.close();
  });
});

describe("RunChannel.close", () => {
  it("ends also while a connection that never sent its tag is still open", async () => {
    const { channel, path } = await open();
    const silent = connect(path);
    silent.on("error", () => undefined);
    await new Promise<void>((resolve) => silent.once("connect", () => resolve()));
    await channel.close();
    expect(existsSync(path)).toBe(false);
    silent.destroy();
  });
});
