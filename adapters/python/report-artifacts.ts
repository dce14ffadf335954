import type { Artifacts, Figure, OutputFile } from "../../domain/artifacts.js";
import { mediaTypeOf } from "./media-type.js";

/**
 * The files and figures of a harness report. The header lists them (a file's "contentBytes"
 * only when its content was sent); their bytes follow one another in the report's body, in
 * the header's order, after the result. Raw bytes travel on the channel; here they become
 * UTF-8 text where they decode as such, base64 otherwise.
 */
export interface ReportedArtifacts {
  readonly artifacts: Artifacts | undefined;
  /** Body bytes the artifacts took. */
  readonly bytes: number;
}

const isCount = (value: unknown): value is number => typeof value === "number" && Number.isSafeInteger(value) && value >= 0;

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function textOrBase64(bytes: Uint8Array): { encoding: "utf-8" | "base64"; content: string } {
  try {
    return { encoding: "utf-8", content: strictUtf8.decode(bytes) };
  } catch {
    return { encoding: "base64", content: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64") };
  }
}

/** The artifacts the header lists, read from `body`; undefined if the header does not describe them properly. */
export function readArtifacts(header: Record<string, unknown>, body: Uint8Array): ReportedArtifacts | undefined {
  const { files: listedFiles, figures: listedFigures } = header;
  if (listedFiles === undefined && listedFigures === undefined) return { artifacts: undefined, bytes: 0 };
  if (!(listedFiles === undefined || Array.isArray(listedFiles)) || !(listedFigures === undefined || Array.isArray(listedFigures))) {
    return undefined;
  }
  let offset = 0;
  const take = (length: number): Uint8Array | undefined => {
    if (offset + length > body.length) return undefined;
    const part = body.subarray(offset, offset + length);
    offset += length;
    return part;
  };

  const files: OutputFile[] = [];
  for (const entry of (listedFiles ?? []) as unknown[]) {
    if (typeof entry !== "object" || entry === null) return undefined;
    const { path, size, contentBytes } = entry as Record<string, unknown>;
    if (typeof path !== "string" || !isCount(size)) return undefined;
    if (contentBytes === undefined) {
      files.push({ path, size, mediaType: mediaTypeOf(path, false) });
      continue;
    }
    const bytes = isCount(contentBytes) ? take(contentBytes) : undefined;
    if (bytes === undefined) return undefined;
    const content = textOrBase64(bytes);
    files.push({ path, size, mediaType: mediaTypeOf(path, content.encoding === "utf-8"), ...content });
  }

  const figures: Figure[] = [];
  for (const entry of (listedFigures ?? []) as unknown[]) {
    if (typeof entry !== "object" || entry === null) return undefined;
    const { width, height, contentBytes } = entry as Record<string, unknown>;
    if (!isCount(width) || !isCount(height) || !isCount(contentBytes)) return undefined;
    const png = take(contentBytes);
    if (png === undefined) return undefined;
    figures.push({
      mediaType: "image/png",
      encoding: "base64",
      content: Buffer.from(png.buffer, png.byteOffset, png.byteLength).toString("base64"),
      width,
      height,
    });
  }

  return {
    artifacts: {
      files,
      filesTruncated: header.filesTruncated === true,
      figures,
      figuresTruncated: header.figuresTruncated === true,
    },
    bytes: offset,
  };
}
