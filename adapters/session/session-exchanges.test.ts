import { describe, expect, it } from "vitest";
import { SessionExchanges } from "./session-exchanges.js";

const MARKER = "\x1e0123456789abcdef\x1e";
const bytes = (text: string) => new TextEncoder().encode(text);
const frame = (payload: string) => bytes(`${bytes(payload).length}\n${payload}`);
const exchangesOf = (maxOutputBytes = 1024) => new SessionExchanges(MARKER, { maxOutputBytes, maxReportBytes: 100 });

describe("SessionExchanges", () => {
  it("cuts each stream at the marker, also one split across chunks, byte by byte", async () => {
    const exchanges = exchangesOf();
    const stream = bytes(`first${MARKER}second\n${MARKER}later`);
    for (const byte of stream) exchanges.stdout(Uint8Array.of(byte));
    exchanges.stderr(bytes(`${MARKER}${MARKER}`));
    await exchanges.exchange(0).outputEnded;
    await exchanges.exchange(1).outputEnded;
    expect([0, 1, 2].map((index) => exchanges.exchange(index).stdout.text())).toEqual(["first", "second\n", "later"]);
  });

  it("keeps bytes that only began like the marker", () => {
    const exchanges = exchangesOf();
    exchanges.stdout(bytes("a\x1e0123"));
    exchanges.stdout(bytes("x"));
    expect(exchanges.exchange(0).stdout.text()).toBe("a\x1e0123x");
  });

  it("caps each exchange's stream on its own", () => {
    const exchanges = exchangesOf(4);
    exchanges.stdout(bytes(`123456${MARKER}ab`));
    expect([exchanges.exchange(0).stdout.truncated, exchanges.exchange(1).stdout.text()]).toEqual([true, "ab"]);
  });

  it("reads length-framed reports in order, however they are chunked", async () => {
    const exchanges = exchangesOf();
    const stream = new Uint8Array([...frame('{"status":"ok"}\nnull'), ...frame("{}\n1")]);
    for (let at = 0; at < stream.length; at += 3) exchanges.report(stream.subarray(at, at + 3));
    expect(new TextDecoder().decode((await exchanges.exchange(0).report) as Uint8Array)).toBe('{"status":"ok"}\nnull');
    expect(new TextDecoder().decode((await exchanges.exchange(1).report) as Uint8Array)).toBe("{}\n1");
  });

  it.each([
    ["a length that is not a number", "x12\n"],
    ["a length over the report cap", "101\n"],
    ["a length line that never ends", "1".repeat(30)],
  ])("%s breaks the framing: this report and every later one are malformed", async (_case, written) => {
    const exchanges = exchangesOf();
    exchanges.report(bytes(written));
    expect(await exchanges.exchange(0).report).toBe("malformed");
    exchanges.report(frame("{}\n1"));
    expect(await exchanges.exchange(1).report).toBe("malformed");
  });
});
