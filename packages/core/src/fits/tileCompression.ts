import { gunzipSync } from "node:zlib";
import {
  corrupt,
  hduAt,
  imageAxes,
  isBitpix,
  pixelArray,
  pixelCount,
  scalingOf,
  swapPixelBytes,
  unsupported,
  type Bitpix,
  type FitsImage,
  type Hdu,
  type ImagePixels,
} from "./fitsImage";
import type { FitsHeader } from "./header";
import { isTableKeyword } from "./tileCompressed";

/*
 * Decoding of a tile-compressed image (the BINTABLE of a .fits.fz: the FITS tiled image compression convention, as
 * fpack, cfitsio and astropy write it), following cfitsio's imcomp_decompress_tile so the pixels are the ones
 * cfitsio/astropy return. Supported: RICE_1, GZIP_1, GZIP_2, NOCOMPRESS; ZBITPIX 8, 16, 32, -32, -64; floats
 * quantized with NO_DITHER, SUBTRACTIVE_DITHER_1 or _2 (ZSCALE/ZZERO per tile or as keywords, ZDITHER0), or stored
 * losslessly; ZBLANK; tiles kept in UNCOMPRESSED_DATA or GZIP_COMPRESSED_DATA; P and Q heap descriptors; tiles of
 * any shape. Not supported: HCOMPRESS_1, PLIO_1, BZIP2_1, ZBITPIX 64.
 */

export type TileCompression = "RICE_1" | "GZIP_1" | "GZIP_2" | "NOCOMPRESS";
/** How float pixels became integers: NONE = stored losslessly; NO_DITHER also covers files older than ZQUANTIZ. */
export type Quantization = "NONE" | "NO_DITHER" | "SUBTRACTIVE_DITHER_1" | "SUBTRACTIVE_DITHER_2";

export interface CompressedImageHdu {
  /** The BINTABLE's header. */
  tableHeader: FitsHeader;
  /**
   * The image's header cards as written: the table's, less those that describe the table or its compression
   * (the keywords tileCompressed.ts drops, and ZBLANK, ZSCALE, ZZERO); BSCALE, BZERO and BLANK are the image's.
   */
  imageCards: string[];
  bitpix: Bitpix;
  axes: number[];
  compression: TileCompression;
  quantization: Quantization;
  /** BSCALE and BZERO of the table header; BLANK, or for integers the ZBLANK keyword (written as BLANK). */
  scaling: Pick<FitsImage, "bscale" | "bzero" | "blank">;
  /** Where the tiles are; read by decodeTileCompressedImage. */
  readonly table: TileTable;
}

interface TileTable {
  bytes: DataView;
  file: Uint8Array;
  dataStart: number;
  heapStart: number;
  rowLength: number;
  rows: number;
  tileSizes: number[];
  compressed: Column;
  uncompressed: Column | undefined;
  gzipped: Column | undefined;
  zscale: Column | number | undefined;
  zzero: Column | number | undefined;
  zblank: Column | number | undefined;
  riceBlockSize: number;
  riceBytepix: number;
  /** ZDITHER0: the first tile's place in the random sequence, counted from 1. */
  ditherStart: number;
}

interface Column {
  name: string;
  /** Offset in the row. */
  offset: number;
  /** The TFORM type letter; for a P/Q descriptor, of the array elements. */
  type: string;
  descriptor: "P" | "Q" | null;
}

const COMPRESSIONS: ReadonlySet<string> = new Set(["RICE_1", "RICE_ONE", "GZIP_1", "GZIP_2", "NOCOMPRESS"]);
/** Compression keywords that tileCompressed.ts keeps in the stored header but an image file must not carry. */
const COMPRESSION_ONLY_KEYWORDS: ReadonlySet<string> = new Set(["ZBLANK", "ZSCALE", "ZZERO"]);

/** The first tile-compressed image HDU (ZIMAGE = T) of a .fits.fz file held in memory. */
export function readCompressedImageHdu(file: Uint8Array): CompressedImageHdu {
  for (let offset = hduAt(file, 0).next; offset < file.length;) {
    const hdu = hduAt(file, offset);
    if (hdu.header.cards.ZIMAGE === true) return compressedImageOf(file, hdu);
    offset = hdu.next;
  }
  throw corrupt("no tile-compressed image HDU (ZIMAGE = T)");
}

function compressedImageOf(file: Uint8Array, hdu: Hdu): CompressedImageHdu {
  const { cards } = hdu.header;
  const bitpix = cards.ZBITPIX;
  if (!isBitpix(bitpix)) throw unsupported(`ZBITPIX ${String(cards.ZBITPIX)}`);
  const type = String(cards.ZCMPTYPE ?? "").trim();
  if (!COMPRESSIONS.has(type)) throw unsupported(`tile compression ${type || "(none named)"}`);
  const compression = (type === "RICE_ONE" ? "RICE_1" : type) as TileCompression;
  const axes = imageAxes(hdu.header, "ZNAXIS");
  const table = tileTableOf(file, hdu, axes);
  if (bitpix > 0 && (table.zscale !== undefined || table.zzero !== undefined)) throw unsupported("ZSCALE/ZZERO on an integer image");
  const scaling = scalingOf(hdu.header, bitpix);
  if (scaling.blank === null && bitpix > 0 && typeof table.zblank === "number") scaling.blank = table.zblank;
  return {
    tableHeader: hdu.header,
    imageCards: imageCardsOf(hdu),
    bitpix,
    axes,
    compression,
    quantization: quantizationOf(hdu.header, bitpix, table),
    scaling,
    table,
  };
}

function tileTableOf(file: Uint8Array, hdu: Hdu, axes: number[]): TileTable {
  const { cards } = hdu.header;
  const rowLength = numberCard(hdu.header, "NAXIS1");
  const rows = numberCard(hdu.header, "NAXIS2");
  const heapOffset = typeof cards.THEAP === "number" ? cards.THEAP : rowLength * rows;
  if (hdu.dataStart + rowLength * rows > file.length) throw corrupt("the tile table is shorter than its header says");
  const tileSizes = axes.map((size, axis) => {
    const tile = cards[`ZTILE${axis + 1}`];
    if (tile === undefined) return axis === 0 ? size : 1;
    if (typeof tile !== "number" || !Number.isInteger(tile) || tile < 1) throw corrupt(`ZTILE${axis + 1} is ${String(tile)}`);
    return Math.min(tile, size);
  });
  const tiles = axes.reduce((count, size, axis) => count * Math.ceil(size / (tileSizes[axis] ?? 1)), 1);
  if (tiles !== rows) throw corrupt(`the table has ${rows} rows for ${tiles} tiles`);
  const columns = columnsOf(hdu.header);
  const compressed = columns.get("COMPRESSED_DATA");
  if (compressed === undefined || compressed.descriptor === null) throw corrupt("no COMPRESSED_DATA column");
  const parameter = (name: string, fallback: number) => {
    for (let index = 1; cards[`ZNAME${index}`] !== undefined; index++) {
      const value = cards[`ZVAL${index}`];
      if (String(cards[`ZNAME${index}`]).trim() === name && typeof value === "number") return value;
    }
    return fallback;
  };
  const dither = cards.ZDITHER0;
  return {
    bytes: new DataView(file.buffer, file.byteOffset, file.byteLength),
    file,
    dataStart: hdu.dataStart,
    heapStart: hdu.dataStart + heapOffset,
    rowLength,
    rows,
    tileSizes,
    compressed,
    uncompressed: columns.get("UNCOMPRESSED_DATA"),
    gzipped: columns.get("GZIP_COMPRESSED_DATA"),
    zscale: columnOrKeyword(columns, hdu.header, "ZSCALE"),
    zzero: columnOrKeyword(columns, hdu.header, "ZZERO"),
    zblank: columnOrKeyword(columns, hdu.header, "ZBLANK"),
    riceBlockSize: parameter("BLOCKSIZE", 32),
    // files older than BYTEPIX name NOISEBIT second; they are 4-byte Rice
    riceBytepix: String(cards.ZNAME2 ?? "").trim() === "NOISEBIT" ? 4 : parameter("BYTEPIX", 4),
    ditherStart: typeof dither === "number" ? dither : 1,
  };
}

/** As cfitsio decides: floats without ZSCALE and ZZERO columns were not quantized, whatever ZQUANTIZ says. */
function quantizationOf(header: FitsHeader, bitpix: Bitpix, table: TileTable): Quantization {
  if (bitpix > 0) return "NONE";
  if (!isColumn(table.zscale) && !isColumn(table.zzero)) return "NONE";
  const method = String(header.cards.ZQUANTIZ ?? "").trim();
  if (method === "NONE" || method === "SUBTRACTIVE_DITHER_1" || method === "SUBTRACTIVE_DITHER_2") return method;
  return "NO_DITHER";
}

const isColumn = (source: Column | number | undefined): source is Column => typeof source === "object";

function columnOrKeyword(columns: Map<string, Column>, header: FitsHeader, name: string): Column | number | undefined {
  const column = columns.get(name);
  if (column !== undefined) return column;
  const value = header.cards[name];
  return typeof value === "number" ? value : undefined;
}

const TFORM = /^(\d*)([LXBIJKAEDCMPQ])([LXBIJKAEDCM]?)/;
const TYPE_BYTES: Readonly<Record<string, number>> = { L: 1, B: 1, I: 2, J: 4, K: 8, A: 1, E: 4, D: 8, C: 8, M: 16, P: 8, Q: 16 };

function columnsOf(header: FitsHeader): Map<string, Column> {
  const fields = numberCard(header, "TFIELDS");
  const columns = new Map<string, Column>();
  let offset = 0;
  for (let field = 1; field <= fields; field++) {
    const form = String(header.cards[`TFORM${field}`] ?? "").trim().toUpperCase();
    const match = TFORM.exec(form);
    if (match === null) throw corrupt(`TFORM${field} is ${JSON.stringify(form)}`);
    const [, repeatText = "", letter = "", element = ""] = match;
    const repeat = repeatText === "" ? 1 : Number(repeatText);
    const descriptor = letter === "P" || letter === "Q" ? letter : null;
    const name = String(header.cards[`TTYPE${field}`] ?? "").trim().toUpperCase();
    if (name !== "" && !columns.has(name)) columns.set(name, { name, offset, type: descriptor ? element : letter, descriptor });
    offset += letter === "X" ? Math.ceil(repeat / 8) : repeat * (TYPE_BYTES[letter] ?? 0);
  }
  const width = numberCard(header, "NAXIS1");
  if (offset !== width) throw corrupt(`the columns take ${offset} bytes of a ${width}-byte row`);
  return columns;
}

function numberCard(header: FitsHeader, keyword: string): number {
  const value = header.cards[keyword];
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) throw corrupt(`${keyword} is ${String(value)}`);
  return value;
}

/**
 * The card images of the image header, in the table's order: those describing the table or its compression are
 * dropped (a CONTINUE card goes with the card it continues); the writer adds SIMPLE, BITPIX and NAXISn.
 */
function imageCardsOf(hdu: Hdu): string[] {
  const kept: string[] = [];
  let previousKept = true;
  for (const card of hdu.cards) {
    const keyword = card.slice(0, 8).trimEnd();
    if (keyword === "CONTINUE") {
      if (previousKept) kept.push(card);
      continue;
    }
    previousKept = !isTableKeyword(keyword, hdu.header.cards[keyword] ?? null) && !COMPRESSION_ONLY_KEYWORDS.has(keyword);
    if (previousKept) kept.push(card);
  }
  return kept;
}

/**
 * Decodes every tile into the image. `into`, if given, receives the pixels (a typed array of the image's BITPIX and
 * size, e.g. over the data part of an output file), so a caller can avoid a copy.
 */
export function decodeTileCompressedImage(hdu: CompressedImageHdu, into?: ImagePixels): FitsImage {
  const length = pixelCount(hdu.axes);
  const pixels = into ?? pixelArray(hdu.bitpix, length);
  if (pixels.length !== length || pixels.BYTES_PER_ELEMENT !== Math.abs(hdu.bitpix) / 8) {
    throw new RangeError(`decodeTileCompressedImage: a ${hdu.bitpix}-bit array of ${length} pixels is needed`);
  }
  const decoder = new TileDecoder(hdu, pixels, hdu.scaling.blank);
  for (let row = 0; row < hdu.table.rows; row++) decoder.decode(row);
  return { bitpix: hdu.bitpix, axes: hdu.axes, pixels, ...hdu.scaling };
}

type IntegerPixels = Uint8Array | Int16Array | Int32Array;
type FloatPixels = Float32Array | Float64Array;

/** Decodes tile after tile, into the image directly where a tile is one run of it, else through a scratch array. */
class TileDecoder {
  private readonly table: TileTable;
  private readonly strides: number[];
  private readonly tileCounts: number[];
  /** Where a tile that is not one run of the image is decoded before it is scattered; made on first need. */
  private scratch: ImagePixels | undefined;
  private readonly integers = new Map<number, IntegerPixels>();

  constructor(private readonly hdu: CompressedImageHdu, private readonly pixels: ImagePixels, private readonly blank: number | null) {
    this.table = hdu.table;
    this.strides = hdu.axes.map((_, axis) => pixelCount(hdu.axes.slice(0, axis)));
    this.tileCounts = hdu.axes.map((size, axis) => Math.ceil(size / (this.table.tileSizes[axis] ?? 1)));
  }

  decode(row: number): void {
    const { axes } = this.hdu;
    const sizes: number[] = [];
    let index = row;
    let contiguous = true;
    let partial = false;
    let origin = 0;
    for (let axis = 0; axis < axes.length; axis++) {
      const count = this.tileCounts[axis] ?? 1;
      const tile = this.table.tileSizes[axis] ?? 1;
      const start = (index % count) * tile;
      index = Math.floor(index / count);
      const size = Math.min(tile, (axes[axis] ?? 0) - start);
      // one run of the image: whole along the axes before the first partial one, one pixel thick beyond it
      if (partial && size !== 1) contiguous = false;
      if (size !== axes[axis]) partial = true;
      sizes.push(size);
      origin += start * (this.strides[axis] ?? 0);
    }
    const count = pixelCount(sizes);
    if (contiguous) {
      this.fill(row, this.pixels.subarray(origin, origin + count));
      return;
    }
    this.scratch ??= pixelArray(this.hdu.bitpix, pixelCount(this.table.tileSizes));
    const target = this.scratch.subarray(0, count);
    this.fill(row, target);
    this.scatter(target, origin, sizes);
  }

  /** Copies a tile (tile order) into its place: runs along NAXIS1, stepping through the other axes. */
  private scatter(tile: ImagePixels, origin: number, sizes: number[]): void {
    const run = sizes[0] ?? 0;
    const position = sizes.map(() => 0);
    for (let from = 0; from < tile.length; from += run) {
      let to = origin;
      for (let axis = 1; axis < sizes.length; axis++) to += (position[axis] ?? 0) * (this.strides[axis] ?? 0);
      this.pixels.set(tile.subarray(from, from + run), to);
      for (let axis = 1; axis < sizes.length; axis++) {
        const next = (position[axis] ?? 0) + 1;
        if (next < (sizes[axis] ?? 1)) {
          position[axis] = next;
          break;
        }
        position[axis] = 0;
      }
    }
  }

  /** Decodes the tile of table row `row` into `target` (the image's type, tile order). */
  private fill(row: number, target: ImagePixels): void {
    const { table, hdu } = this;
    const compressed = this.heapArray(table.compressed, row);
    if (compressed.length === 0) {
      this.fillFallback(row, target);
      return;
    }
    if (table.compressed.type !== "B") throw unsupported(`COMPRESSED_DATA of type ${table.compressed.type}`);
    const quantized = hdu.quantization !== "NONE";
    if (hdu.compression === "RICE_1") {
      if (hdu.bitpix < 0 && !quantized) throw unsupported("RICE_1 on floats that are not quantized");
      const bytepix = table.riceBytepix;
      if (bytepix !== 1 && bytepix !== 2 && bytepix !== 4) throw unsupported(`RICE_1 with BYTEPIX ${bytepix}`);
      if (hdu.bitpix > 0 && target.BYTES_PER_ELEMENT === bytepix) {
        riceDecode(compressed, target as IntegerPixels, table.riceBlockSize, bytepix);
        this.mapIntegerNulls(row, target as IntegerPixels);
        return;
      }
      const integers = this.integerScratch(bytepix, target.length);
      riceDecode(compressed, integers, table.riceBlockSize, bytepix);
      this.store(row, integers, target);
      return;
    }
    if (hdu.compression === "GZIP_1" || hdu.compression === "GZIP_2") {
      const values = bigEndianValues(gunzip(compressed), target.length, hdu.compression === "GZIP_2", hdu.bitpix < 0 && !quantized);
      this.store(row, values, target);
      return;
    }
    throw corrupt(`a ${hdu.compression} tile in COMPRESSED_DATA`);
  }

  /** A tile that was not compressed normally (COMPRESSED_DATA empty): NOCOMPRESS, or floats kept losslessly. */
  private fillFallback(row: number, target: ImagePixels): void {
    const { uncompressed, gzipped } = this.table;
    if (uncompressed !== undefined) {
      const bytes = this.heapArray(uncompressed, row);
      if (bytes.length > 0) {
        copyValues(heapValues(bytes, uncompressed.type, target.length), target);
        return;
      }
    }
    if (gzipped !== undefined && this.hdu.bitpix < 0) {
      const bytes = this.heapArray(gzipped, row);
      if (bytes.length > 0) {
        copyValues(bigEndianValues(gunzip(bytes), target.length, false, true), target);
        return;
      }
    }
    throw corrupt(`tile ${row + 1} has no data`);
  }

  /** Integers of a tile into the image: as they are (integer images), or dequantized; floats copied. */
  private store(row: number, values: ImagePixels, target: ImagePixels): void {
    if (target instanceof Float32Array || target instanceof Float64Array) {
      if (values instanceof Float32Array || values instanceof Float64Array || this.hdu.quantization === "NONE") {
        copyValues(values, target);
        return;
      }
      dequantize(values, target, {
        scale: this.tileNumber(this.table.zscale, row, 1),
        zero: this.tileNumber(this.table.zzero, row, 0),
        nullValue: this.tileNumber(this.table.zblank, row, NULL_VALUE),
        dither: this.hdu.quantization === "SUBTRACTIVE_DITHER_2" ? 2 : this.hdu.quantization === "SUBTRACTIVE_DITHER_1" ? 1 : 0,
        firstRandom: this.table.ditherStart - 1 + row,
      });
      return;
    }
    if (values instanceof Float32Array || values instanceof Float64Array) throw corrupt(`tile ${row + 1} holds floats`);
    copyValues(values, target);
    this.mapIntegerNulls(row, target);
  }

  /** A tile's ZBLANK pixels become the image's BLANK where the two differ (cfitsio writes them equal). */
  private mapIntegerNulls(row: number, target: IntegerPixels): void {
    const { zblank } = this.table;
    if (zblank === undefined || this.blank === null) return;
    const tileNull = this.tileNumber(zblank, row, this.blank);
    if (tileNull === this.blank) return;
    for (let i = 0; i < target.length; i++) if (target[i] === tileNull) target[i] = this.blank;
  }

  private tileNumber(source: Column | number | undefined, row: number, fallback: number): number {
    if (source === undefined) return fallback;
    if (typeof source === "number") return source;
    const at = this.table.dataStart + row * this.table.rowLength + source.offset;
    return readNumber(this.table.bytes, at, source.type);
  }

  /** The bytes a P or Q descriptor points to in the heap. */
  private heapArray(column: Column, row: number): Uint8Array {
    const { bytes, dataStart, rowLength, heapStart, file } = this.table;
    const at = dataStart + row * rowLength + column.offset;
    let count: number;
    let offset: number;
    if (column.descriptor === "Q") {
      count = Number(bytes.getBigInt64(at));
      offset = Number(bytes.getBigInt64(at + 8));
    } else {
      count = bytes.getInt32(at);
      offset = bytes.getInt32(at + 4);
    }
    const length = count * (TYPE_BYTES[column.type] ?? 1);
    const start = heapStart + offset;
    if (count < 0 || offset < 0 || start + length > file.length) throw corrupt(`the ${column.name} of tile ${row + 1} lies outside the file`);
    return file.subarray(start, start + length);
  }

  private integerScratch(bytes: number, length: number): IntegerPixels {
    let scratch = this.integers.get(bytes);
    if (scratch === undefined || scratch.length < length) {
      const size = pixelCount(this.table.tileSizes);
      scratch = bytes === 1 ? new Uint8Array(size) : bytes === 2 ? new Int16Array(size) : new Int32Array(size);
      this.integers.set(bytes, scratch);
    }
    return scratch.subarray(0, length);
  }
}

function readNumber(bytes: DataView, at: number, type: string): number {
  switch (type) {
  case "B":
    return bytes.getUint8(at);
  case "I":
    return bytes.getInt16(at);
  case "J":
    return bytes.getInt32(at);
  case "K":
    return Number(bytes.getBigInt64(at));
  case "E":
    return bytes.getFloat32(at);
  case "D":
    return bytes.getFloat64(at);
  }
  throw unsupported(`a tile parameter column of type ${type}`);
}

function gunzip(bytes: Uint8Array): Buffer {
  try {
    return gunzipSync(bytes);
  } catch (error) {
    if (!(error instanceof Error)) throw error;
    throw corrupt(`a gzip tile cannot be inflated: ${error.message}`);
  }
}

/** Big-endian values (byte-shuffled by GZIP_2) as a native array; their width is what the tile's size gives. */
function bigEndianValues(raw: Uint8Array, count: number, shuffled: boolean, floats: boolean): ImagePixels {
  const width = raw.length / count;
  if (width !== 1 && width !== 2 && width !== 4 && width !== 8) throw corrupt(`a tile of ${count} pixels inflates to ${raw.length} bytes`);
  let bytes = raw;
  if (shuffled && width > 1) {
    // GZIP_2 stores the most significant bytes of all pixels first, then the next ones
    bytes = new Uint8Array(raw.length);
    for (let k = 0; k < width; k++) {
      const plane = k * count;
      for (let i = 0, j = k; i < count; i++, j += width) bytes[j] = raw[plane + i] ?? 0;
    }
  } else if (raw.byteOffset % width !== 0) {
    bytes = new Uint8Array(raw);
  }
  swapPixelBytes(bytes, width);
  const type = width === 1 ? 8 : width === 2 ? 16 : width === 4 ? (floats ? -32 : 32) : floats ? -64 : 0;
  if (type === 0) throw unsupported("64-bit integer tiles");
  return pixelArray(type, count, bytes);
}

/** Elements of a heap array of TFORM type `type`, as a native array. */
function heapValues(bytes: Uint8Array, type: string, count: number): ImagePixels {
  const bitpix = ({ B: 8, I: 16, J: 32, E: -32, D: -64 } as Record<string, Bitpix | undefined>)[type];
  if (bitpix === undefined) throw unsupported(`UNCOMPRESSED_DATA of type ${type}`);
  if (bytes.length !== count * (Math.abs(bitpix) / 8)) throw corrupt(`an UNCOMPRESSED_DATA tile of ${bytes.length} bytes for ${count} pixels`);
  const copy = new Uint8Array(bytes);
  swapPixelBytes(copy, Math.abs(bitpix) / 8);
  return pixelArray(bitpix, count, copy);
}

function copyValues(values: ImagePixels, target: ImagePixels): void {
  if (values.length !== target.length) throw corrupt(`a tile of ${values.length} pixels where ${target.length} belong`);
  if (values.constructor === target.constructor) {
    target.set(values);
    return;
  }
  for (let i = 0; i < values.length; i++) target[i] = values[i] ?? 0;
}

/** cfitsio's value for undefined quantized pixels, and ZBLANK's default here. */
const NULL_VALUE = -2147483647;
/**
 * Never a quantized value (the convention reserves the lowest integers): what cfitsio's rounding makes of a NaN when
 * the writer does not flag nulls, as astropy 5.2 does (it then writes no ZBLANK either). Taken as undefined too.
 */
const NAN_ROUNDED = -2147483648;
/** SUBTRACTIVE_DITHER_2's value for pixels that were exactly 0. */
const ZERO_VALUE = -2147483646;

interface Quantizing {
  scale: number;
  zero: number;
  nullValue: number;
  /** 0: none, 1: SUBTRACTIVE_DITHER_1, 2: SUBTRACTIVE_DITHER_2 */
  dither: 0 | 1 | 2;
  /** Index in the random sequence for this tile: ZDITHER0 - 1 + tile index. */
  firstRandom: number;
}

/** Quantized integers → floats, as cfitsio's unquantize_i4r4 / fffi4r4 compute them (in double, then stored). */
function dequantize(values: IntegerPixels, target: FloatPixels, q: Quantizing): void {
  const { scale, zero, nullValue, dither } = q;
  const count = values.length;
  if (dither === 0) {
    for (let i = 0; i < count; i++) {
      const value = values[i] ?? 0;
      target[i] = value === nullValue || value === NAN_ROUNDED ? Number.NaN : value * scale + zero;
    }
    return;
  }
  let seed = ((q.firstRandom % RANDOM_COUNT) + RANDOM_COUNT) % RANDOM_COUNT;
  let next = firstRandomIndex(seed);
  for (let i = 0; i < count; i++) {
    const value = values[i] ?? 0;
    if (value === nullValue || value === NAN_ROUNDED) target[i] = Number.NaN;
    else if (dither === 2 && value === ZERO_VALUE) target[i] = 0;
    else target[i] = (value - (RANDOMS[next] ?? 0) + 0.5) * scale + zero;
    if (++next === RANDOM_COUNT) {
      if (++seed === RANDOM_COUNT) seed = 0;
      next = firstRandomIndex(seed);
    }
  }
}

/** cfitsio's (int)(fits_rand_value[seed] * 500): a float product, so rounded to single precision before truncation. */
const firstRandomIndex = (seed: number): number => Math.trunc(Math.fround((RANDOMS[seed] ?? 0) * 500));

const RANDOM_COUNT = 10000;

/** The convention's dither sequence: Park & Miller's generator (a = 16807, m = 2^31 - 1) from seed 1, as floats. */
const RANDOMS = ((): Float32Array => {
  const randoms = new Float32Array(RANDOM_COUNT);
  const a = 16807;
  const m = 2147483647;
  let seed = 1;
  for (let i = 0; i < RANDOM_COUNT; i++) {
    const product = a * seed;
    seed = product - m * Math.trunc(product / m);
    randoms[i] = seed / m;
  }
  // the check the convention gives: the 10000th seed
  if (seed !== 1043618065) throw new Error(`the dither sequence is wrong: its last seed is ${seed}`);
  return randoms;
})();

/**
 * Rice decoding (cfitsio's fits_rdecomp, _short and _byte in one): the first pixel as `bytepix` raw bytes, then
 * blocks of `blockSize` differences, each block a code length FS (fsbits bits, minus one) and the differences in
 * Rice code with FS low bits; FS = -1 means all zero, FS = fsmax means raw values. Writes `out.length` pixels.
 */
export function riceDecode(input: Uint8Array, out: IntegerPixels, blockSize: number, bytepix: 1 | 2 | 4): void {
  const fsBits = bytepix === 1 ? 3 : bytepix === 2 ? 4 : 5;
  const fsMax = bytepix === 1 ? 6 : bytepix === 2 ? 14 : 25;
  const rawBits = 8 * bytepix;
  const end = input.length;
  const count = out.length;
  if (end < bytepix + 1) throw corrupt("a Rice tile is shorter than its first pixel");
  let p = 0;
  let last = 0;
  for (let k = 0; k < bytepix; k++) last = (last << 8) | (input[p++] ?? 0);
  let bits = input[p++] ?? 0;
  let nbits = 8;
  for (let i = 0; i < count;) {
    nbits -= fsBits;
    while (nbits < 0) {
      bits = (bits << 8) | (input[p++] ?? 0);
      nbits += 8;
    }
    const fs = (bits >>> nbits) - 1;
    bits &= (1 << nbits) - 1;
    const blockEnd = Math.min(i + blockSize, count);
    if (fs < 0) {
      out.fill(last, i, blockEnd);
      i = blockEnd;
    } else if (fs === fsMax) {
      for (; i < blockEnd; i++) {
        let k = rawBits - nbits;
        // bits < 2^nbits, so the shift keeps every bit; with nbits = 0, bits is 0 and so is the result
        let diff = k < 32 ? bits << k : 0;
        for (k -= 8; k >= 0; k -= 8) diff |= (input[p++] ?? 0) << k;
        if (nbits > 0) {
          bits = input[p++] ?? 0;
          diff |= bits >>> -k;
          bits &= (1 << nbits) - 1;
        } else {
          bits = 0;
        }
        last = (((diff & 1) === 0 ? diff >>> 1 : ~(diff >>> 1)) + last) | 0;
        out[i] = last;
      }
    } else {
      for (; i < blockEnd; i++) {
        while (bits === 0) {
          if (p >= end) throw corrupt("a Rice tile ends before its last pixel");
          nbits += 8;
          bits = input[p++] ?? 0;
        }
        // the leading zeros before the 1 that ends the unary part
        const zeros = nbits - (32 - Math.clz32(bits));
        nbits -= zeros + 1;
        bits ^= 1 << nbits;
        nbits -= fs;
        while (nbits < 0) {
          bits = (bits << 8) | (input[p++] ?? 0);
          nbits += 8;
        }
        const diff = (zeros << fs) | (bits >>> nbits);
        bits &= (1 << nbits) - 1;
        last = (((diff & 1) === 0 ? diff >>> 1 : ~(diff >>> 1)) + last) | 0;
        out[i] = last;
      }
    }
    if (p > end) throw corrupt("a Rice tile ends before its last pixel");
  }
}
