import { crc32, inflateSync } from "node:zlib";

export interface DecodedPng {
  readonly width: number;
  readonly height: number;
  /** Bytes of the image data once inflated: one filter byte and a row of pixels per line. */
  readonly pixelBytes: number;
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/**
 * Decodes a PNG far enough to prove it is one: the signature, every chunk's CRC, the header,
 * and the compressed image data inflating to exactly the rows the header announces.
 * Throws on anything else.
 */
export function decodePng(bytes: Buffer): DecodedPng {
  if (!bytes.subarray(0, 8).equals(SIGNATURE)) throw new Error("not a PNG: wrong signature");
  let offset = 8;
  let header: { width: number; height: number; bitDepth: number; colorType: number; interlace: number } | undefined;
  const data: Buffer[] = [];
  let ended = false;
  while (offset < bytes.length && !ended) {
    const length = bytes.readUInt32BE(offset);
    const type = bytes.toString("latin1", offset + 4, offset + 8);
    const body = bytes.subarray(offset + 8, offset + 8 + length);
    const crc = bytes.readUInt32BE(offset + 8 + length);
    if (crc32(bytes.subarray(offset + 4, offset + 8 + length)) !== crc) throw new Error(`PNG chunk ${type}: bad CRC`);
    if (type === "IHDR") {
      header = { width: body.readUInt32BE(0), height: body.readUInt32BE(4), bitDepth: body[8]!, colorType: body[9]!, interlace: body[12]! };
    } else if (type === "IDAT") data.push(body);
    else if (type === "IEND") ended = true;
    offset += 12 + length;
  }
  if (!header || !ended || offset !== bytes.length) throw new Error("PNG without a header, an end, or with trailing bytes");
  if (header.interlace !== 0) throw new Error("interlaced PNGs are not checked here");
  const channels = CHANNELS[header.colorType];
  if (channels === undefined) throw new Error(`PNG colour type ${header.colorType} is invalid`);
  const pixels = inflateSync(Buffer.concat(data));
  const rowBytes = 1 + Math.ceil((header.width * channels * header.bitDepth) / 8);
  if (pixels.length !== header.height * rowBytes) {
    throw new Error(`PNG data is ${pixels.length} bytes, not ${header.height} rows of ${rowBytes}`);
  }
  return { width: header.width, height: header.height, pixelBytes: pixels.length };
}
