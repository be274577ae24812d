import { gzipSync } from "node:zlib";
import { bytesPerPixel, swapPixelBytes, type FitsImage } from "./fitsImage";
import { BLOCK_LENGTH, CARD_LENGTH } from "./header";

/*
 * A .fits.fz of one image, tiled by rows and GZIP-compressed (fpack -g / -g2 without quantization): an empty primary
 * HDU, then the BINTABLE of the tiled image compression convention that tileCompression.ts decodes. The archive has no
 * RICE_1 encoder; fixtures and benchmarks that need a tile-compressed frame without astropy write this one.
 */

export interface TileCompressedOptions {
  /** GZIP_2 shuffles each tile's bytes (most significant first), as fpack -g2: smaller for integer images. */
  compression: "GZIP_1" | "GZIP_2";
  /** Rows per tile (fpack: 1). */
  tileRows?: number;
  /** zlib level (1 fastest, 9 smallest). */
  level?: number;
}

type CardValue = number | boolean | string;

function card(keyword: string, value: CardValue, comment?: string): string {
  const text =
    typeof value === "boolean"
      ? (value ? "T" : "F").padStart(20)
      : typeof value === "number"
        ? String(value).toUpperCase().padStart(20)
        : `'${value.replace(/'/g, "''").padEnd(8)}'`;
  return `${keyword.padEnd(8)}= ${text}${comment === undefined ? "" : ` / ${comment}`}`.padEnd(CARD_LENGTH).slice(0, CARD_LENGTH);
}

function headerBytes(cards: readonly string[]): Buffer {
  const text = cards.map((line) => line.padEnd(CARD_LENGTH).slice(0, CARD_LENGTH)).join("") + "END".padEnd(CARD_LENGTH);
  return Buffer.from(text.padEnd(Math.ceil(text.length / BLOCK_LENGTH) * BLOCK_LENGTH, " "), "latin1");
}

const padded = (length: number) => Math.ceil(length / BLOCK_LENGTH) * BLOCK_LENGTH;

/** A tile's pixels as big-endian bytes, shuffled for GZIP_2. */
function tileBytes(image: FitsImage, first: number, count: number, shuffle: boolean): Buffer {
  const width = bytesPerPixel(image.bitpix);
  const native = new Uint8Array(image.pixels.buffer, image.pixels.byteOffset + first * width, count * width);
  const bigEndian = Buffer.from(native);
  swapPixelBytes(bigEndian, width);
  if (!shuffle || width === 1) return bigEndian;
  const shuffled = Buffer.allocUnsafe(bigEndian.length);
  for (let byte = 0; byte < width; byte++) {
    for (let pixel = 0; pixel < count; pixel++) shuffled[byte * count + pixel] = bigEndian[pixel * width + byte] ?? 0;
  }
  return shuffled;
}

/** The .fits.fz bytes of a 2-D image with its header `cards` (card images of non-structural keywords). */
export function writeTileCompressed(cards: readonly string[], image: FitsImage, options: TileCompressedOptions): Buffer {
  const [width = 0, height = 0] = image.axes;
  if (image.axes.length !== 2 || width < 1 || height < 1) throw new Error("writeTileCompressed writes 2-D images");
  const tileRows = options.tileRows ?? 1;
  const tiles = Math.ceil(height / tileRows);
  const compressed: Buffer[] = [];
  for (let tile = 0; tile < tiles; tile++) {
    const rows = Math.min(tileRows, height - tile * tileRows);
    const bytes = tileBytes(image, tile * tileRows * width, rows * width, options.compression === "GZIP_2");
    compressed.push(gzipSync(bytes, { level: options.level ?? 6 }));
  }
  const heapLength = compressed.reduce((total, tile) => total + tile.length, 0);
  const longest = compressed.reduce((most, tile) => Math.max(most, tile.length), 0);
  const scaling = [
    ...(image.bscale !== 1 ? [card("BSCALE", image.bscale)] : []),
    ...(image.bzero !== 0 ? [card("BZERO", image.bzero)] : []),
    ...(image.blank !== null ? [card("ZBLANK", image.blank)] : []),
  ];
  const table = headerBytes([
    card("XTENSION", "BINTABLE", "binary table extension"),
    card("BITPIX", 8),
    card("NAXIS", 2),
    card("NAXIS1", 8),
    card("NAXIS2", tiles),
    card("PCOUNT", heapLength),
    card("GCOUNT", 1),
    card("TFIELDS", 1),
    card("TTYPE1", "COMPRESSED_DATA"),
    card("TFORM1", `1PB(${longest})`),
    card("ZIMAGE", true, "extension contains compressed image"),
    card("ZBITPIX", image.bitpix),
    card("ZNAXIS", 2),
    card("ZNAXIS1", width),
    card("ZNAXIS2", height),
    card("ZTILE1", width),
    card("ZTILE2", tileRows),
    card("ZCMPTYPE", options.compression),
    ...scaling,
    card("EXTNAME", "COMPRESSED_IMAGE"),
    ...cards.filter((line) => !/^(?:SIMPLE|XTENSION|BITPIX|NAXIS\d*|EXTEND|PCOUNT|GCOUNT|BSCALE|BZERO|BLANK|END)\b/.test(line)),
  ]);
  const descriptors = Buffer.alloc(tiles * 8);
  let offset = 0;
  for (const [tile, bytes] of compressed.entries()) {
    descriptors.writeInt32BE(bytes.length, tile * 8);
    descriptors.writeInt32BE(offset, tile * 8 + 4);
    offset += bytes.length;
  }
  const data = Buffer.concat([descriptors, ...compressed]);
  const primary = headerBytes([card("SIMPLE", true), card("BITPIX", 8), card("NAXIS", 0), card("EXTEND", true)]);
  return Buffer.concat([primary, table, data, Buffer.alloc(padded(data.length) - data.length)]);
}
