import { unlink } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { CappedBuffer } from "../python/capped-buffer.js";
import { STARTED_TEXT } from "../python/protocol-facts.js";
import { openSession, type SessionLink, type SessionStreams } from "../python/session-link.js";

/** What the run said of its own set-up before the script's first line (sandbox_harness/forked_run.py, step 5). */
export type RunSetup = { readonly ready: true } | { readonly failed: string; readonly silent?: true };

export interface RunChannelLimits {
  readonly maxOutputBytes: number;
  /** The most the harness may write on its result channel (harness-protocol.ts maxReportBytes). */
  readonly maxReportBytes: number;
}

const TAGS = ["c", "0", "1", "2", "3"] as const;
type Tag = (typeof TAGS)[number];
/** The set-up's messages are one short JSON line; more is a broken run. */
const CONTROL_CAP_BYTES = 64 * 1024;

/**
 * The server's end of one run's connections (sandbox_harness/forked_run.py, step 1): a unix socket in the fork
 * server's channel directory that the run's process connects to five times, a tag byte first:
 * "c" the control channel of its set-up, "0" to "3" the harness's stdin, stdout, stderr and
 * result channel. Once all five are in, the socket is closed and removed: nothing else can
 * connect. Output is captured here, each stream capped as it arrives, as for a piped harness.
 */
export class RunChannel {
  readonly stdout: CappedBuffer;
  readonly stderr: CappedBuffer;
  readonly report: CappedBuffer;
  /** Resolves once all five connections are in. */
  readonly connected: Promise<void>;
  /** Resolves when the run says its set-up is done (or what failed), or closes its control channel without a word. */
  readonly setup: Promise<RunSetup>;
  /**
   * Resolves once the run's control channel is closed: true if the run said before that it had
   * read its request (its script may have started), false if it never did.
   */
  readonly started: Promise<boolean>;
  private saidStarted = false;
  private resolveStarted!: (started: boolean) => void;
  private readonly sockets = new Map<Tag, Socket>();
  /** Every connection accepted, also one that never sent its tag: the listening socket closes only once all are gone. */
  private readonly accepted = new Set<Socket>();
  private readonly streamsClosed: Promise<void>[] = [];
  private controlText = "";
  private listening = true;
  /** A session's: its output from the hand-over on. */
  private session: SessionStreams | undefined;
  private resolveConnected!: () => void;
  private resolveSetup!: (setup: RunSetup) => void;

  private constructor(
    private readonly server: Server,
    private readonly path: string,
    limits: RunChannelLimits,
  ) {
    this.stdout = new CappedBuffer(limits.maxOutputBytes);
    this.stderr = new CappedBuffer(limits.maxOutputBytes);
    this.report = new CappedBuffer(limits.maxReportBytes);
    this.connected = new Promise((resolve) => (this.resolveConnected = resolve));
    this.setup = new Promise((resolve) => (this.resolveSetup = resolve));
    this.started = new Promise((resolve) => (this.resolveStarted = resolve));
    server.on("connection", (socket) => this.accept(socket));
    // A failed accept() (EMFILE under fd pressure) costs that connection only, never the server process.
    server.on("error", () => undefined);
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

  /** Lets the run go on with its set-up: it is in its cgroup now. */
  go(): void {
    this.sockets.get("c")?.write("go\n");
  }

  /**
   * Hands the harness its request (it reads it once its set-up is done); or a session's opening
   * request, after which the harness's stdin stays open for its cells.
   */
  handOver(request: Uint8Array, session?: SessionLink): void {
    const stdin = this.sockets.get("0");
    if (session === undefined) {
      stdin?.end(request);
      return;
    }
    this.session = openSession(stdin, request, session);
  }

  /** Resolves once the output streams are closed (every process of the run holding them is gone). */
  outputClosed(): Promise<void> {
    return Promise.all(this.streamsClosed).then(() => undefined);
  }

  /** Waits for the output streams to close (every process of the run holding them is gone), at most `graceMs`. */
  async drain(graceMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([this.outputClosed(), late]);
    clearTimeout(timer);
  }

  /** Closes every connection and the socket, if it still listens. */
  async close(): Promise<void> {
    for (const socket of this.accepted) socket.destroy();
    await this.stopListening();
  }

  private accept(socket: Socket): void {
    let tag: Tag | undefined;
    this.accepted.add(socket);
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
      const closed = () => {
        this.resolveSetup({ failed: "the run ended during its set-up", silent: true });
        this.resolveStarted(this.saidStarted);
      };
      socket.once("end", closed);
      socket.once("close", closed);
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
      this.resolveConnected();
    }
  }

  private take(tag: Tag, chunk: Buffer): void {
    const session = this.session;
    if (tag === "1") session ? session.stdout(chunk) : this.stdout.push(chunk);
    else if (tag === "2") session ? session.stderr(chunk) : this.stderr.push(chunk);
    else if (tag === "3") session ? session.report(chunk) : this.report.push(chunk);
    else if (tag === "c") this.onControl(chunk);
    // "0", the harness's stdin, carries nothing back.
  }

  /** Its set-up's line (ready, or what failed), then "started" once it has read its request. */
  private onControl(chunk: Buffer): void {
    this.controlText += chunk.toString("utf8");
    const [setup, started, ...rest] = this.controlText.split("\n");
    if (started !== undefined) this.resolveSetup(parseSetup(setup ?? ""));
    if (rest.length > 0 && started === STARTED_TEXT) this.saidStarted = true;
    if (this.controlText.length > CONTROL_CAP_BYTES) this.resolveSetup({ failed: "the run wrote more than its control channel allows" });
  }

  /** Stops accepting connections at once; the returned promise waits for the open ones to close too. */
  private async stopListening(): Promise<void> {
    if (!this.listening) return;
    this.listening = false;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // unlink, not rm: rm looks the path up first and goes through more promises, on every run.
    await unlink(this.path).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "ENOENT") throw error;
    });
    await closed;
  }
}

function parseSetup(line: string): RunSetup {
  try {
    const message = JSON.parse(line) as Record<string, unknown>;
    if (message.ready === true) return { ready: true };
    if (typeof message.error === "string") return { failed: message.error };
  } catch {
    // below
  }
  return { failed: `unreadable set-up message: ${line.slice(0, 200)}` };
}
