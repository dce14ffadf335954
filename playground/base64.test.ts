import { describe, expect, it } from "vitest";
import { base64ToBytes, bytesToBase64 } from "./base64.js";

describe("base64", () => {
  it("encodes RFC 4648's test vectors", () => {
    const vectors = { "": "", f: "Zg==", fo: "Zm8=", foo: "Zm9v", foob: "Zm9vYg==", fooba: "Zm9vYmE=", foobar: "Zm9vYmFy" };
    for (const [text, encoded] of Object.entries(vectors)) {
      expect(bytesToBase64(new TextEncoder().encode(text))).toBe(encoded);
      expect(new TextDecoder().decode(base64ToBytes(encoded))).toBe(text);
    }
  });

  it("round-trips every byte value, over more than one chunk", () => {
    const bytes = new Uint8Array(100_000).map((_, i) => (i * 7919) % 256);
    expect(base64ToBytes(bytesToBase64(bytes))).toEqual(bytes);
  });
});
