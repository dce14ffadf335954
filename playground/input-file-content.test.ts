import { describe, expect, it } from "vitest";
import { bytesToBase64 } from "./base64.js";
import { byteLength, textOf } from "./input-file-content.js";

const base64File = (bytes: number[]) => ({ path: "f", content: bytesToBase64(new Uint8Array(bytes)), encoding: "base64" as const });

describe("byteLength", () => {
  it("counts the bytes the script gets: UTF-8 for text, decoded for base64", () => {
    expect(byteLength({ path: "a.txt", content: "é\n", encoding: "utf-8" })).toBe(3);
    for (const length of [0, 1, 2, 3, 4]) expect(byteLength(base64File(Array.from({ length }, (_, i) => i + 250)))).toBe(length);
  });
});

describe("textOf", () => {
  it("is the text of a text file, however it was encoded", () => {
    expect(textOf({ path: "a.csv", content: "a,b\r\n1,\t2\n", encoding: "utf-8" })).toBe("a,b\r\n1,\t2\n");
    expect(textOf(base64File([...new TextEncoder().encode("héllo\n")]))).toBe("héllo\n");
  });

  it("is undefined for bytes that are not UTF-8 text", () => {
    expect(textOf(base64File([0, 1, 2, 253, 254, 255]))).toBeUndefined();
    expect(textOf(base64File([104, 105, 0]))).toBeUndefined();
  });
});
