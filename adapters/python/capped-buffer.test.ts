import { describe, expect, it } from "vitest";
import { CappedBuffer } from "./capped-buffer.js";

const utf8 = (text: string) => new TextEncoder().encode(text);
const bytes = (...values: number[]) => Uint8Array.from(values);

function filled(cap: number, ...chunks: Uint8Array[]): CappedBuffer {
  const buffer = new CappedBuffer(cap);
  for (const chunk of chunks) buffer.push(chunk);
  return buffer;
}

describe("CappedBuffer", () => {
  it("keeps everything under the cap, byte-exact, without a truncation flag", () => {
    const buffer = filled(100, utf8("line 1\n"), utf8("no newline at the end"));
    expect(buffer.text()).toBe("line 1\nno newline at the end");
    expect(buffer.truncated).toBe(false);
    expect(buffer.totalBytes).toBe(28);
  });

  it("starts empty", () => {
    const buffer = new CappedBuffer(10);
    expect(buffer.text()).toBe("");
    expect(buffer.bytes()).toEqual(new Uint8Array(0));
    expect(buffer.truncated).toBe(false);
  });

  it("exactly at the cap is not truncated", () => {
    const buffer = filled(5, utf8("ab"), utf8("cde"));
    expect(buffer.text()).toBe("abcde");
    expect(buffer.truncated).toBe(false);
  });

  it("keeps the first capBytes across chunks, counts the rest and flags the cut", () => {
    const buffer = filled(5, utf8("abc"), utf8("defg"), utf8("hij"));
    expect(buffer.bytes()).toEqual(utf8("abcde"));
    expect(buffer.text()).toBe("abcde");
    expect(buffer.truncated).toBe(true);
    expect(buffer.totalBytes).toBe(10);
  });

  it("holds no more than the cap however much arrives", () => {
    const buffer = new CappedBuffer(1024);
    const chunk = new Uint8Array(64 * 1024).fill(0x61);
    for (let i = 0; i < 256; i++) buffer.push(chunk); // 16 MiB offered
    expect(buffer.bytes().length).toBe(1024);
    expect(buffer.totalBytes).toBe(16 * 1024 * 1024);
    expect(buffer.truncated).toBe(true);
  });

  it("a cap of 0 keeps nothing and flags any output", () => {
    const buffer = filled(0, utf8("x"));
    expect(buffer.text()).toBe("");
    expect(buffer.truncated).toBe(true);
  });

  describe("a UTF-8 character cut in half by the cap is dropped, not turned into U+FFFD", () => {
    it.each([
      ["2-byte é, 1 byte kept", "abé", 3, "ab"],
      ["3-byte €, 1 byte kept", "ab€", 3, "ab"],
      ["3-byte €, 2 bytes kept", "ab€", 4, "ab"],
      ["4-byte 🐍, 1 byte kept", "ab🐍", 3, "ab"],
      ["4-byte 🐍, 2 bytes kept", "ab🐍", 4, "ab"],
      ["4-byte 🐍, 3 bytes kept", "ab🐍", 5, "ab"],
      ["only a cut character", "🐍🐍", 3, ""],
    ])("%s", (_name, text, cap, expected) => {
      const buffer = filled(cap, utf8(`${text}more`));
      expect(buffer.truncated).toBe(true);
      expect(buffer.text()).toBe(expected);
      expect(buffer.text()).not.toContain("\uFFFD");
    });

    it.each([
      ["é", 2],
      ["€", 3],
      ["🐍", 4],
    ])("a whole %s ending exactly at the cap is kept", (char, size) => {
      const buffer = filled(2 + size, utf8(`ab${char}`), utf8("next"));
      expect(buffer.truncated).toBe(true);
      expect(buffer.text()).toBe(`ab${char}`);
    });

    it("a character split across chunks but kept whole decodes intact", () => {
      const snake = utf8("🐍");
      const buffer = filled(100, snake.subarray(0, 1), snake.subarray(1, 3), snake.subarray(3));
      expect(buffer.text()).toBe("🐍");
    });
  });

  it("replaces invalid bytes with U+FFFD", () => {
    expect(filled(100, bytes(0x61, 0xff, 0x62)).text()).toBe("a\uFFFDb");
    expect(filled(100, bytes(0x61, 0xc3, 0x28)).text()).toBe("a\uFFFD(");
  });

  it("an incomplete character at the end of output that was not cut is replaced, not dropped", () => {
    // The script itself wrote half a character: that is invalid output, shown as such.
    const buffer = filled(100, bytes(0x61, 0xe2, 0x82));
    expect(buffer.truncated).toBe(false);
    expect(buffer.text()).toBe("a\uFFFD");
  });

  it("invalid bytes before the cut are still replaced when truncated", () => {
    const buffer = filled(4, bytes(0xff, 0x61, 0x62, 0x63, 0x64, 0x65));
    expect(buffer.truncated).toBe(true);
    expect(buffer.text()).toBe("\uFFFDabc");
  });
});
