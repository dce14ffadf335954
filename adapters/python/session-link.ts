import type { ExecutionRequest } from "../../domain/execution-request.js";

/** Where a session's harness output goes, chunk by chunk, as it arrives. */
export interface SessionStreams {
  stdout(chunk: Uint8Array): void;
  stderr(chunk: Uint8Array): void;
  report(chunk: Uint8Array): void;
}

/**
 * A session's side of a run that outlives one request (sandbox_harness/session.py). Each
 * backend passes it the run's streams at the hand-over, and how to send the harness a line.
 */
export interface SessionLink {
  /** Ends each exchange's output on stdout and stderr; never seen by the client. */
  readonly marker: string;
  readonly streams: SessionStreams;
  /** The harness has its opening request; `send` writes a cell's request line to it. */
  opened(send: (line: Uint8Array) => void): void;
}

/** A run's request that opens a session: a run whose harness then serves cells. */
export interface SessionRunRequest extends ExecutionRequest {
  readonly session: SessionLink;
}

export const sessionOf = (request: ExecutionRequest): SessionLink | undefined => (request as Partial<SessionRunRequest>).session;

/** The request, whose session's opening also calls `then`; a request that opens no session unchanged. */
export function alsoWhenOpened(request: ExecutionRequest, then: () => void): ExecutionRequest {
  const session = sessionOf(request);
  if (session === undefined) return request;
  const link: SessionLink = {
    ...session,
    opened: (send) => {
      session.opened(send);
      then();
    },
  };
  return { ...request, session: link } as SessionRunRequest;
}

/**
 * A session's opening at the hand-over, whatever carries the harness's stdin: the request as one
 * line, the stdin left open for the cells' lines. Returns where the run's output goes from now on.
 */
export function openSession(stdin: { write(bytes: Uint8Array): unknown } | null | undefined, request: Uint8Array, session: SessionLink): SessionStreams {
  stdin?.write(asLine(request));
  session.opened((line) => stdin?.write(line));
  return session.streams;
}

/** An encoded request as one line (JSON has no raw newline): how a session's harness reads them. */
export function asLine(encoded: Uint8Array): Uint8Array {
  const line = new Uint8Array(encoded.length + 1);
  line.set(encoded);
  line[encoded.length] = 0x0a;
  return line;
}
