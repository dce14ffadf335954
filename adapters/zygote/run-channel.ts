import { createServer, type Server, type Socket } from "node:net";
import { rm } from "node:fs/promises";
import { CappedBuffer } from "../python/capped-buffer.js";
import { REPORT_HEADER_ALLOWANCE_BYTES } from "../python/harness-protocol.js";

/** What the run's supervisor said on its control channel about how the run ended. */
export type SupervisorReport =
  | { readonly kind: "exited"; readonly exitCode: number }
  | { readonly kind: "signalled"; readonly signal: number }
  | { readonly kind: "setup-failed"; readonly message: string }
  /** The control channel closed without a word: the supervisor was killed (or its fork server died). */
  | { readonly kind: "lost" };

export interface RunChannelLimits {
  readonly maxOutputBytes: number;
  readonly maxResultBytes: number;
}

const TAGS = ["c", "0", "1", "2", "3"] as const;
type Tag = (typeof TAGS)[number];
/** The supervisor's messages are a few short JSON lines; more is a broken supervisor. */
const CONTROL_CAP_BYTES = 64 * 1024;

/**
 * The server's end of one run's connections (zygote.py, step 1): a unix socket in the fork
 * server's channel directory that the run's supervisor connects to five times, a tag byte
 * first: "c" its control channel, "0" to "3" the harness's stdin, stdout, stderr and result
 * channel. Once all five are in, the socket is closed and removed: nothing else can connect.
 * Output is captured here, each stream capped as it arrives, as for a piped harness.
 */
export class RunChannel {
  readonly stdout: CappedBuffer;
  readonly stderr: CappedBuffer;
  readonly report: CappedBuffer;
  /** Resolves with the supervisor's pid (in the fork server's pid namespace) once all five connections are in. */
  readonly hello: Promise<number>;
  /** Resolves when the supervisor reports how the run ended, or its control channel closes. */
  readonly ended: Promise<SupervisorReport>;
  /** Resolves when the supervisor's end of the control channel is closed: it has exited. */
  readonly supervisorGone: Promise<void>;
  private readonly sockets = new Map<Tag, Socket>();
  private readonly streamsClosed: Promise<void>[] = [];
  private controlText = "";
  private helloPid: number | undefined;
  private listening = true;
  private resolveHello!: (pid: number) => void;
  private resolveEnded!: (report: SupervisorReport) => void;
  private resolveGone!: () => void;

  private constructor(
    private readonly server: Server,
    private readonly path: string,
    limits: RunChannelLimits,
  ) {
    this.stdout = new CappedBuffer(limits.maxOutputBytes);
    this.stderr = new CappedBuffer(limits.maxOutputBytes);
    this.report = new CappedBuffer(limits.maxResultBytes + REPORT_HEADER_ALLOWANCE_BYTES);
    this.hello = new Promise((resolve) => (this.resolveHello = resolve));
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
    this.supervisorGone = new Promise((resolve) => (this.resolveGone = resolve));
    server.on("connection", (socket) => this.accept(socket));
  }

  /** Listens at `path` (a fresh name in a directory only the fork server's uid can enter). */
  static async open(path: string, limits: RunChannelLimits): Promise<RunChannel> {
    const server = createServer({ allowHalfOpen: true });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ path, writableAll: true }, () => {
        server.off("error", reject);
        resolve();
      });
    });
    return new RunChannel(server, path, limits);
  }

  /** Lets the supervisor go on (it is in the run's cgroup now) and hands the harness its request. */
  go(request: Uint8Array): void {
    this.sockets.get("c")?.write("go\n");
    this.sockets.get("0")?.end(request);
  }

  /** Closes the control channel: the supervisor kills the run (if it still runs), reports and exits. */
  stop(): void {
    this.sockets.get("c")?.end();
  }

  /** Waits for the output streams to close (every process of the run holding them is gone), at most `graceMs`. */
  async drain(graceMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([Promise.all(this.streamsClosed), late]);
    clearTimeout(timer);
  }

  /** Closes every connection and the socket, if it still listens. */
  async close(): Promise<void> {
    for (const socket of this.sockets.values()) socket.destroy();
    await this.stopListening();
  }

  private accept(socket: Socket): void {
    let tag: Tag | undefined;
    socket.on("error", () => undefined);
    socket.on("data", (chunk: Buffer) => {
      if (tag === undefined) {
        const named = TAGS.find((candidate) => candidate.charCodeAt(0) === chunk[0]);
        if (named === undefined || this.sockets.has(named)) {
          socket.destroy();
          return;
        }
        tag = named;
        this.register(tag, socket);
        chunk = chunk.subarray(1);
      }
      if (chunk.length > 0) this.take(tag, chunk);
    });
  }

  private register(tag: Tag, socket: Socket): void {
    this.sockets.set(tag, socket);
    if (tag === "c") {
      socket.once("end", () => this.resolveEnded({ kind: "lost" }));
      socket.once("close", () => {
        this.resolveEnded({ kind: "lost" });
        this.resolveGone();
      });
    } else {
      // Half-open sockets: the run's end of a stream closing is the end of that stream.
      this.streamsClosed.push(
        new Promise((resolve) => {
          socket.once("end", () => {
            socket.end();
            resolve();
          });
          socket.once("close", () => resolve());
        }),
      );
    }
    if (this.sockets.size === TAGS.length) {
      void this.stopListening();
      this.sayHello();
    }
  }

  private take(tag: Tag, chunk: Buffer): void {
    if (tag === "1") this.stdout.push(chunk);
    else if (tag === "2") this.stderr.push(chunk);
    else if (tag === "3") this.report.push(chunk);
    else if (tag === "c") this.onControl(chunk);
    // "0", the harness's stdin, carries nothing back.
  }

  private onControl(chunk: Buffer): void {
    this.controlText += chunk.toString("utf8");
    if (this.controlText.length > CONTROL_CAP_BYTES) {
      this.resolveEnded({ kind: "setup-failed", message: "the supervisor wrote more than its control channel allows" });
      return;
    }
    for (let newline = this.controlText.indexOf("\n"); newline >= 0; newline = this.controlText.indexOf("\n")) {
      const message = parseControl(this.controlText.slice(0, newline));
      this.controlText = this.controlText.slice(newline + 1);
      if (message === undefined) continue;
      if ("pid" in message) {
        this.helloPid = message.pid;
        this.sayHello();
      } else {
        this.resolveEnded(message);
      }
    }
  }

  private sayHello(): void {
    if (this.sockets.size === TAGS.length && this.helloPid !== undefined) this.resolveHello(this.helloPid);
  }

  /** Stops accepting connections at once; the returned promise waits for the open ones to close too. */
  private async stopListening(): Promise<void> {
    if (!this.listening) return;
    this.listening = false;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    await rm(this.path, { force: true });
    await closed;
  }
}

function parseControl(line: string): SupervisorReport | { pid: number } | undefined {
  let message: unknown;
  try {
    message = JSON.parse(line);
  } catch {
    return { kind: "setup-failed", message: `unreadable supervisor message: ${line.slice(0, 200)}` };
  }
  if (typeof message !== "object" || message === null) return undefined;
  const fields = message as Record<string, unknown>;
  if (typeof fields.pid === "number") return { pid: fields.pid };
  if (typeof fields.exitCode === "number") return { kind: "exited", exitCode: fields.exitCode };
  if (typeof fields.signal === "number") return { kind: "signalled", signal: fields.signal };
  if (typeof fields.error === "string") return { kind: "setup-failed", message: fields.error };
  return undefined;
}
