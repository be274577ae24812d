import { InvalidInputError } from "../platform/errors";
import { parseHeaderText } from "./cards";
import { dataLength } from "./hdus";
import { BLOCK_LENGTH, CARD_LENGTH, MAX_HEADER_BLOCKS, type FitsHeader } from "./header";

/*
 * A FITS image in memory: the pixels as a plain HDU stores them (one typed array, native byte order), with the
 * scaling that turns them into physical values. Decoders (tileCompression.ts) fill one, writers (fitsWriter.ts) and
 * renderers (downloads/tiff.ts) read one.
 */

export type Bitpix = 8 | 16 | 32 | -32 | -64;
export type ImagePixels = Uint8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface FitsImage {
  bitpix: Bitpix;
  /** NAXIS1 (the fastest-varying axis, x), NAXIS2 (y), … */
  axes: number[];
  /** Stored values in FITS order (x fastest, first row first); physical = stored × bscale + bzero. */
  pixels: ImagePixels;
  bscale: number;
  bzero: number;
  /** The stored value of an undefined integer pixel (BLANK); undefined float pixels are NaN. */
  blank: number | null;
}

/** One HDU of a FITS file held in memory. */
export interface Hdu {
  header: FitsHeader;
  /** The header's cards as written (80 characters each), END excluded. */
  cards: string[];
  /** Offset of the data in the file, and of the next HDU (after the padded data). */
  dataStart: number;
  next: number;
}

const BITPIXES: ReadonlySet<number> = new Set([8, 16, 32, -32, -64]);

export function isBitpix(value: unknown): value is Bitpix {
  return typeof value === "number" && BITPIXES.has(value);
}

export const bytesPerPixel = (bitpix: Bitpix): number => Math.abs(bitpix) / 8;

/** A typed array for `length` pixels, new or over `bytes` (whose offset must be aligned to the pixel size). */
export function pixelArray(bitpix: Bitpix, length: number, bytes?: Uint8Array): ImagePixels {
  const buffer = bytes?.buffer ?? new ArrayBuffer(length * bytesPerPixel(bitpix));
  const offset = bytes?.byteOffset ?? 0;
  switch (bitpix) {
  case 8:
    return new Uint8Array(buffer, offset, length);
  case 16:
    return new Int16Array(buffer, offset, length);
  case 32:
    return new Int32Array(buffer, offset, length);
  case -32:
    return new Float32Array(buffer, offset, length);
  case -64:
    return new Float64Array(buffer, offset, length);
  }
}

export const pixelCount = (axes: readonly number[]): number => axes.reduce((count, size) => count * size, 1);

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Turns big-endian pixels into native order, or back, in place (FITS is big-endian, typed arrays native). */
export function swapPixelBytes(bytes: Uint8Array, width: number): void {
  if (!LITTLE_ENDIAN || width === 1) return;
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (width === 2) buffer.swap16();
  else if (width === 4) buffer.swap32();
  else buffer.swap64();
}

/** The HDU whose header starts at `offset`; its cards are parsed by cards.ts. */
export function hduAt(file: Uint8Array, offset: number): Hdu {
  const end = endCardOffset(file, offset);
  if (end < 0) throw corrupt(`no END card in the header at byte ${offset}`);
  const headerBytes = file.subarray(offset, end + CARD_LENGTH);
  const header = parseHeaderText(headerBytes);
  const text = Buffer.from(headerBytes.buffer, headerBytes.byteOffset, end - offset).toString("latin1");
  const cards: string[] = [];
  for (let start = 0; start < text.length; start += CARD_LENGTH) cards.push(text.slice(start, start + CARD_LENGTH));
  const dataStart = offset + Math.ceil((end + CARD_LENGTH - offset) / BLOCK_LENGTH) * BLOCK_LENGTH;
  return { header, cards, dataStart, next: dataStart + dataLength(header) };
}

/** Offset of the END card of the header starting at `offset`, or -1. */
function endCardOffset(file: Uint8Array, offset: number): number {
  const limit = Math.min(file.length, offset + MAX_HEADER_BLOCKS * BLOCK_LENGTH);
  for (let card = offset; card + CARD_LENGTH <= limit; card += CARD_LENGTH) {
    if (file[card] !== 69 || file[card + 1] !== 78 || file[card + 2] !== 68) continue;
    let blank = true;
    for (let column = 3; column < 8; column++) if (file[card + column] !== 32) blank = false;
    if (blank) return card;
  }
  return -1;
}

/** The first image of a plain (uncompressed) FITS file: the primary HDU, or the first IMAGE extension if it is empty. */
export function readFitsImage(file: Uint8Array): FitsImage {
  for (let offset = 0; offset < file.length;) {
    const hdu = hduAt(file, offset);
    const cards = hdu.header.cards;
    const isImage = offset === 0 || cards.XTENSION === "IMAGE";
    if (isImage && typeof cards.NAXIS === "number" && cards.NAXIS > 0) return imageOf(file, hdu);
    offset = hdu.next;
  }
  throw new InvalidInputError("the FITS file holds no image", "fits", "corrupt_fits");
}

function imageOf(file: Uint8Array, hdu: Hdu): FitsImage {
  const { cards } = hdu.header;
  const bitpix = cards.BITPIX;
  if (!isBitpix(bitpix)) throw unsupported(`BITPIX ${String(bitpix)}`);
  const axes = imageAxes(hdu.header, "NAXIS");
  const length = pixelCount(axes);
  const byteLength = length * bytesPerPixel(bitpix);
  if (hdu.dataStart + byteLength > file.length) throw corrupt("the image data are shorter than its header says");
  // copied, so the pixels are aligned and the caller's bytes stay big-endian
  const bytes = new Uint8Array(file.subarray(hdu.dataStart, hdu.dataStart + byteLength));
  swapPixelBytes(bytes, bytesPerPixel(bitpix));
  return { bitpix, axes, pixels: pixelArray(bitpix, length, bytes), ...scalingOf(hdu.header, bitpix) };
}

/** NAXIS1…NAXISn (or ZNAXIS1…, for a compressed image) as positive integers. */
export function imageAxes(header: FitsHeader, prefix: "NAXIS" | "ZNAXIS"): number[] {
  const count = header.cards[prefix];
  if (typeof count !== "number" || !Number.isInteger(count) || count < 1 || count > 999) {
    throw corrupt(`${prefix} is ${String(count)}`);
  }
  const axes: number[] = [];
  for (let axis = 1; axis <= count; axis++) {
    const size = header.cards[`${prefix}${axis}`];
    if (typeof size !== "number" || !Number.isInteger(size) || size < 1) throw corrupt(`${prefix}${axis} is ${String(size)}`);
    axes.push(size);
  }
  return axes;
}

/** BSCALE, BZERO and, for integers, BLANK from an image header. */
export function scalingOf(header: FitsHeader, bitpix: Bitpix): Pick<FitsImage, "bscale" | "bzero" | "blank"> {
  const { BSCALE: bscale, BZERO: bzero, BLANK: blank } = header.cards;
  return {
    bscale: typeof bscale === "number" ? bscale : 1,
    bzero: typeof bzero === "number" ? bzero : 0,
    blank: bitpix > 0 && typeof blank === "number" ? blank : null,
  };
}

export function corrupt(reason: string): InvalidInputError {
  return new InvalidInputError(`the FITS file is corrupt: ${reason}`, "fits", "corrupt_fits");
}

export function unsupported(what: string): InvalidInputError {
  return new InvalidInputError(`the FITS file uses ${what}, which is not supported`, "fits", "unsupported_fits");
}
