import { describe, expect, it } from "vitest";
import type { InputFile } from "./execution-request.js";
import { decodedBytes, inputFileProblems, inputFilesOverLimit, inputPathProblem, utf8Length } from "./input-files.js";

const text = (path: string, content = ""): InputFile => ({ path, content, encoding: "utf-8" });

describe("inputPathProblem", () => {
  it.each(["a.csv", "data/in.csv", "deep/er/still/x", ".hidden", "..dots..", "a..b/c", "ünïcode/файл.txt", "with space.txt", "x".repeat(255)])(
    "%s is a safe path",
    (path) => {
      expect(inputPathProblem(path)).toBeUndefined();
    },
  );

  it.each<[string, string]>([
    ["", "is empty"],
    ["/etc/passwd", "is absolute"],
    ["../x", 'contains ".."'],
    ["a/../../x", 'contains ".."'],
    ["a/..", 'contains ".."'],
    ["./a", 'contains "."'],
    ["a/./b", 'contains "."'],
    ["a//b", "empty part"],
    ["a/", "empty part"],
    ["a\\..\\b", "backslash"],
    ["a\u0000b", "control character"],
    ["line\nbreak", "control character"],
    ["lone\ud800", "not well-formed Unicode"],
    ["x".repeat(256), "longer than 255 bytes"],
    ["é".repeat(128), "longer than 255 bytes"],
    [Array.from({ length: 10 }, () => "d".repeat(120)).join("/"), "longer than 1024 bytes"],
  ])("%j is refused: %s", (path, reason) => {
    expect(inputPathProblem(path)).toContain(reason);
  });

  it("names the path in its message", () => {
    expect(inputPathProblem("../secret")).toMatch(/^"\.\.\/secret"/);
  });
});

describe("inputFileProblems", () => {
  it("none for distinct safe paths with valid contents", () => {
    expect(inputFileProblems([text("a.txt", "x"), text("d/a.txt"), { path: "b.bin", content: "AAEC/w==", encoding: "base64" }, text("d/e/f")])).toEqual([]);
  });

  it("a repeated path, naming where it came first", () => {
    expect(inputFileProblems([text("a"), text("b"), text("a")])).toEqual([{ index: 2, field: "path", message: '"a" repeats files[0].path' }]);
  });

  it("a path that another one needs as a directory", () => {
    expect(inputFileProblems([text("d/e/f"), text("d")])).toEqual([
      { index: 1, field: "path", message: '"d" is a file, but files[0].path "d/e/f" needs it to be a directory' },
    ]);
  });

  it.each(["AAE", "AA=A", "AAE=\n", "AA==AA==", "-_8=", "QUJD RA=="])("base64 %j is refused", (content) => {
    expect(inputFileProblems([{ path: "a", content, encoding: "base64" }])).toEqual([
      expect.objectContaining({ index: 0, field: "content", message: expect.stringContaining("not valid base64") }),
    ]);
  });

  it("text with a lone surrogate is refused (it has no UTF-8 form)", () => {
    expect(inputFileProblems([text("a", "x\udc00")])).toEqual([expect.objectContaining({ field: "content" })]);
  });
});

describe("sizes and limits", () => {
  it.each<[string, number]>([
    ["", 0],
    ["abc", 3],
    ["é", 2],
    ["€", 3],
    ["🐍", 4],
    ["\ud800", 3],
  ])("utf8Length(%j) is %i", (value, bytes) => {
    expect(utf8Length(value)).toBe(bytes);
    if (!/[\ud800-\udfff]/u.test(value)) expect(bytes).toBe(Buffer.byteLength(value, "utf8"));
  });

  it.each<[string, number]>([
    ["", 0],
    ["AA==", 1],
    ["AAE=", 2],
    ["AAEC", 3],
    ["AAECAw==", 4],
  ])("base64 %j decodes to %i bytes", (content, bytes) => {
    expect(decodedBytes({ path: "a", content, encoding: "base64" })).toBe(bytes);
    expect(Buffer.from(content, "base64").length).toBe(bytes);
  });

  it("the count limit, then the decoded-size limit", () => {
    const limits = { maxFiles: 2, maxBytes: 4 };
    expect(inputFilesOverLimit([text("a", "ab"), text("b", "é")], limits)).toBeUndefined();
    expect(inputFilesOverLimit([text("a"), text("b"), text("c")], limits)).toBe("The request has 3 files, over the limit of 2 files");
    expect(inputFilesOverLimit([text("a", "abc"), { path: "b", content: "AAE=", encoding: "base64" }], limits)).toBe(
      "The input files are 5 bytes once decoded, over the limit of 4 bytes",
    );
  });
});
