import type { InputFile } from "./execution-request.js";

/** Longest accepted input path, in UTF-8 bytes; each name in it may have at most 255, as on Linux. */
export const MAX_INPUT_PATH_BYTES = 1024;
const MAX_NAME_BYTES = 255;

export interface InputFileLimits {
  /** How many files one request may carry. */
  readonly maxFiles: number;
  /** Their decoded size together, in bytes. */
  readonly maxBytes: number;
}

/** One reason a request's files cannot be written as given, for the file at `index`. */
export interface InputFileProblem {
  readonly index: number;
  readonly field: "path" | "content";
  /** What is wrong, said after the field's name: files[1].path `"a" repeats files[0].path`. */
  readonly message: string;
}

/** Bytes of `text` as UTF-8 (a lone surrogate counts as the 3 bytes of U+FFFD). */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && isLowSurrogate(text.charCodeAt(i + 1))) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

const isLowSurrogate = (unit: number): boolean => unit >= 0xdc00 && unit <= 0xdfff;
const LONE_SURROGATE = /[\ud800-\udfff]/u;
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters in a path is the point.
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Why `path` cannot name a file in the run's work dir, said after the field's name (`is empty`), or undefined when it can. */
export function inputPathProblem(path: string): string | undefined {
  const quoted = JSON.stringify(path);
  if (path === "") return "is empty";
  if (path.startsWith("/")) return `${quoted} is absolute; give a path relative to the work dir`;
  if (CONTROL_CHARACTER.test(path)) return `${quoted} contains a control character`;
  if (path.includes("\\")) return `${quoted} contains a backslash; separate directories with /`;
  if (LONE_SURROGATE.test(path)) return `${quoted} is not well-formed Unicode`;
  const names = path.split("/");
  if (names.includes("..")) return `${quoted} contains "..": it must stay inside the work dir`;
  if (names.includes(".")) return `${quoted} contains "."; write the path without it`;
  if (names.includes("")) return `${quoted} has an empty part (a doubled or trailing /)`;
  if (utf8Length(path) > MAX_INPUT_PATH_BYTES) return `${quoted} is longer than ${MAX_INPUT_PATH_BYTES} bytes`;
  if (names.some((name) => utf8Length(name) > MAX_NAME_BYTES)) return `${quoted} has a name longer than ${MAX_NAME_BYTES} bytes`;
  return undefined;
}

/** Every problem with the paths and contents of a request's files (none: they can be written). */
export function inputFileProblems(files: readonly InputFile[]): InputFileProblem[] {
  const problems: InputFileProblem[] = [];
  const firstIndexOf = new Map<string, number>();
  files.forEach((file, index) => {
    const pathProblem = inputPathProblem(file.path);
    if (pathProblem !== undefined) problems.push({ index, field: "path", message: pathProblem });
    else if (firstIndexOf.has(file.path)) {
      problems.push({ index, field: "path", message: `${JSON.stringify(file.path)} repeats files[${firstIndexOf.get(file.path)}].path` });
    } else firstIndexOf.set(file.path, index);
    const contentProblem = contentProblemOf(file);
    if (contentProblem !== undefined) problems.push({ index, field: "content", message: contentProblem });
  });
  // A path that is also a directory of another one cannot be both a file and a directory.
  for (const [path, index] of firstIndexOf) {
    const names = path.split("/");
    for (let depth = 1; depth < names.length; depth++) {
      const directory = names.slice(0, depth).join("/");
      const fileIndex = firstIndexOf.get(directory);
      if (fileIndex !== undefined) {
        problems.push({
          index: fileIndex,
          field: "path",
          message: `${JSON.stringify(directory)} is a file, but files[${index}].path ${JSON.stringify(path)} needs it to be a directory`,
        });
      }
    }
  }
  return problems;
}

function contentProblemOf(file: InputFile): string | undefined {
  if (file.encoding === "base64") {
    return file.content.length % 4 === 0 && BASE64.test(file.content)
      ? undefined
      : "is not valid base64 (the standard alphabet, padded with =, without line breaks)";
  }
  return LONE_SURROGATE.test(file.content) ? "is not well-formed Unicode (a lone surrogate); send binary content as base64" : undefined;
}

/** The size of a file's content once decoded, in bytes (content already checked by inputFileProblems). */
export function decodedBytes(file: InputFile): number {
  if (file.encoding === "utf-8") return utf8Length(file.content);
  const padding = file.content.endsWith("==") ? 2 : file.content.endsWith("=") ? 1 : 0;
  return (file.content.length / 4) * 3 - padding;
}

/** Why the files are over the configured limits (a 413), or undefined when they are within them. */
export function inputFilesOverLimit(files: readonly InputFile[], limits: InputFileLimits): string | undefined {
  if (files.length > limits.maxFiles) {
    return `The request has ${files.length} files, over the limit of ${limits.maxFiles} files`;
  }
  const total = files.reduce((sum, file) => sum + decodedBytes(file), 0);
  if (total > limits.maxBytes) {
    return `The input files are ${total} bytes once decoded, over the limit of ${limits.maxBytes} bytes`;
  }
  return undefined;
}
