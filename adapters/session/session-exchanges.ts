import { CappedBuffer } from "../python/capped-buffer.js";
import type { SessionStreams } from "../python/session-link.js";

/** What one exchange (the opening, then each cell) sent back. */
export interface Exchange {
  readonly stdout: CappedBuffer;
  readonly stderr: CappedBuffer;
  /** The report's bytes, or "malformed" when the result channel's framing broke. */
  readonly report: Promise<Uint8Array | "malformed">;
  /** Both streams have reached the exchange's marker. */
  readonly outputEnded: Promise<void>;
}

export interface ExchangeLimits {
  readonly maxOutputBytes: number;
  readonly maxReportBytes: number;
}

interface OpenExchange extends Exchange {
  endReport(report: Uint8Array | "malformed"): void;
  endStdout(): void;
  endStderr(): void;
}

/** The longest length line a frame may have: maxReportBytes has far fewer digits. */
const MAX_LENGTH_LINE_BYTES = 20;

/**
 * A session's streams, cut into exchanges (sandbox_harness/session.py): on stdout and stderr the
 * marker ends each exchange's output; on the result channel each report is its length, a
 * newline and that many bytes. Output between two exchanges (a thread the cell left running)
 * belongs to the next. Each exchange keeps at most maxOutputBytes per stream.
 */
export class SessionExchanges implements SessionStreams {
  private readonly exchanges = new Map<number, OpenExchange>();
  private readonly marker: Uint8Array;
  private readonly stdoutCut: MarkerCut;
  private readonly stderrCut: MarkerCut;
  private reportAt = 0;
  /** The report frame being read: its length line, then its payload. */
  private lengthLine = "";
  private payload: { bytes: Uint8Array; filled: number } | undefined;
  private broken = false;

  constructor(
    marker: string,
    private readonly limits: ExchangeLimits,
  ) {
    this.marker = new TextEncoder().encode(marker);
    this.stdoutCut = new MarkerCut(
      this.marker,
      (index, bytes) => this.at(index).stdout.push(bytes),
      (index) => this.at(index).endStdout(),
    );
    this.stderrCut = new MarkerCut(
      this.marker,
      (index, bytes) => this.at(index).stderr.push(bytes),
      (index) => this.at(index).endStderr(),
    );
  }

  /** The exchange of that index (0: the opening), whether or not it has begun. */
  exchange(index: number): Exchange {
    return this.at(index);
  }

  /** Done with an exchange: its buffers are let go. */
  forget(index: number): void {
    this.exchanges.delete(index);
  }

  stdout(chunk: Uint8Array): void {
    this.stdoutCut.push(chunk);
  }

  stderr(chunk: Uint8Array): void {
    this.stderrCut.push(chunk);
  }

  report(chunk: Uint8Array): void {
    let data = chunk;
    while (data.length > 0 && !this.broken) {
      if (this.payload === undefined) {
        const newline = data.indexOf(0x0a);
        const part = newline < 0 ? data : data.subarray(0, newline);
        this.lengthLine += new TextDecoder().decode(part);
        const length = Number(this.lengthLine);
        const lengthLineBroken = !/^[0-9]*$/.test(this.lengthLine) || this.lengthLine.length > MAX_LENGTH_LINE_BYTES;
        if (lengthLineBroken || (newline >= 0 && (length === 0 || length > this.limits.maxReportBytes))) {
          this.breakFraming();
          return;
        }
        if (newline < 0) return;
        this.payload = { bytes: new Uint8Array(length), filled: 0 };
        this.lengthLine = "";
        data = data.subarray(newline + 1);
      }
      const payload = this.payload;
      const part = data.subarray(0, payload.bytes.length - payload.filled);
      payload.bytes.set(part, payload.filled);
      payload.filled += part.length;
      data = data.subarray(part.length);
      if (payload.filled === payload.bytes.length) {
        this.payload = undefined;
        this.at(this.reportAt++).endReport(payload.bytes);
      }
    }
  }

  /** The cell wrote on the result channel itself: no later report can be trusted. */
  private breakFraming(): void {
    this.broken = true;
    this.payload = undefined;
    this.at(this.reportAt).endReport("malformed");
  }

  private at(index: number): OpenExchange {
    let exchange = this.exchanges.get(index);
    if (exchange === undefined) {
      exchange = newExchange(this.limits.maxOutputBytes);
      if (this.broken && index >= this.reportAt) exchange.endReport("malformed");
      this.exchanges.set(index, exchange);
    }
    return exchange;
  }
}

function newExchange(maxOutputBytes: number): OpenExchange {
  let endReport!: (report: Uint8Array | "malformed") => void;
  let endStdout!: () => void;
  let endStderr!: () => void;
  const report = new Promise<Uint8Array | "malformed">((resolve) => (endReport = resolve));
  const stdoutEnded = new Promise<void>((resolve) => (endStdout = resolve));
  const stderrEnded = new Promise<void>((resolve) => (endStderr = resolve));
  return {
    stdout: new CappedBuffer(maxOutputBytes),
    stderr: new CappedBuffer(maxOutputBytes),
    report,
    outputEnded: Promise.all([stdoutEnded, stderrEnded]).then(() => undefined),
    endReport,
    endStdout,
    endStderr,
  };
}

/** Cuts a stream at each occurrence of the marker, which may arrive split across chunks. */
class MarkerCut {
  private index = 0;
  /** The tail of what arrived that could be the start of a marker. */
  private held = new Uint8Array(0);

  constructor(
    private readonly marker: Uint8Array,
    private readonly take: (index: number, bytes: Uint8Array) => void,
    private readonly end: (index: number) => void,
  ) {}

  push(chunk: Uint8Array): void {
    let data = this.held.length === 0 ? chunk : concat(this.held, chunk);
    for (let at = indexOf(data, this.marker); at >= 0; at = indexOf(data, this.marker)) {
      if (at > 0) this.take(this.index, data.subarray(0, at));
      this.end(this.index++);
      data = data.subarray(at + this.marker.length);
    }
    const keep = heldTail(data, this.marker);
    if (data.length > keep) this.take(this.index, data.subarray(0, data.length - keep));
    this.held = data.slice(data.length - keep);
  }
}

/** How many bytes at the end of data are a proper prefix of the marker. */
function heldTail(data: Uint8Array, marker: Uint8Array): number {
  for (let length = Math.min(marker.length - 1, data.length); length > 0; length--) {
    if (startsAt(data, data.length - length, marker, length)) return length;
  }
  return 0;
}

function indexOf(data: Uint8Array, marker: Uint8Array): number {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).indexOf(marker);
}

function startsAt(data: Uint8Array, offset: number, marker: Uint8Array, length: number): boolean {
  for (let i = 0; i < length; i++) if (data[offset + i] !== marker[i]) return false;
  return true;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
