/** A file the run created or changed in its work dir. */
export interface OutputFile {
  readonly path: string;
  readonly size: number;
  readonly mediaType: string;
  /** With `content`: "utf-8" when the bytes are UTF-8 text, else "base64". Both absent past the byte cap. */
  readonly encoding?: "utf-8" | "base64";
  readonly content?: string;
}

/** A matplotlib figure, rendered as a PNG. */
export interface Figure {
  readonly mediaType: "image/png";
  readonly encoding: "base64";
  readonly content: string;
  readonly width: number;
  readonly height: number;
}

/**
 * What a run leaves for the client besides its result and output: the files it created or
 * changed (sorted by path) and its figures. A truncated flag says the list or the contents
 * were cut at the configured caps.
 */
export interface Artifacts {
  readonly files: readonly OutputFile[];
  readonly filesTruncated: boolean;
  readonly figures: readonly Figure[];
  readonly figuresTruncated: boolean;
}

export const NO_ARTIFACTS: Artifacts = { files: [], filesTruncated: false, figures: [], figuresTruncated: false };
