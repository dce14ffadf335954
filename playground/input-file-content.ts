import { base64ToBytes } from "./base64.js";
import type { InputFile } from "./run-request.js";

/** The file's size in bytes, as the script will find it in its work dir. */
export function byteLength(file: InputFile): number {
  return file.encoding === "base64" ? base64ToBytes(file.content).length : new TextEncoder().encode(file.content).length;
}

/** Whether `text` holds a control character text files do not (tab, newline, form feed and carriage return are text). */
function hasBinaryControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if ((code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0c && code !== 0x0d) || code === 0x7f) return true;
  }
  return false;
}

/** The file as text to show, or undefined when its bytes are not UTF-8 text. */
export function textOf(file: InputFile): string | undefined {
  let text = file.content;
  if (file.encoding === "base64") {
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(base64ToBytes(file.content));
    } catch {
      return undefined;
    }
  }
  return hasBinaryControl(text) ? undefined : text;
}
