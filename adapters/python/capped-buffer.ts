/**
 * Keeps at most `capBytes` of a byte stream and remembers whether more arrived.
 * Bytes past the cap are counted and dropped, so memory stays bounded whatever a script writes.
 */
export class CappedBuffer {
  private readonly chunks: Uint8Array[] = [];
  private kept = 0;
  private seen = 0;

  constructor(private readonly capBytes: number) {}

  push(chunk: Uint8Array): void {
    this.seen += chunk.length;
    const room = this.capBytes - this.kept;
    if (room <= 0) return;
    const part = chunk.length <= room ? chunk : chunk.subarray(0, room);
    this.chunks.push(part);
    this.kept += part.length;
  }

  get truncated(): boolean {
    return this.seen > this.kept;
  }

  get totalBytes(): number {
    return this.seen;
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(this.kept);
    let offset = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    return out;
  }

  /** UTF-8 text, invalid bytes replaced; a character cut in half by the cap is dropped. */
  text(): string {
    const bytes = this.truncated ? withoutCutCharacter(this.bytes()) : this.bytes();
    return new TextDecoder("utf-8", { fatal: false }).decode(bytes);
  }
}

function withoutCutCharacter(bytes: Uint8Array): Uint8Array {
  // Walk back over continuation bytes (10xxxxxx) to the lead byte of the last character.
  let start = bytes.length - 1;
  while (start >= 0 && start > bytes.length - 4 && ((bytes[start] ?? 0) & 0xc0) === 0x80) start--;
  if (start < 0) return bytes;
  const lead = bytes[start] ?? 0;
  const expected = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return bytes.length - start < expected ? bytes.subarray(0, start) : bytes;
}
