import { gzipSync } from "node:zlib";
import { bzip2 as compressBzip2 } from "@archive/core/platform/bzip2";
import type { FitsValue } from "@archive/core/fits/header";

/** Builders of FITS bytes (plain, bz2, gz, fz) for tests and benchmarks. Every card is 80 characters. */

export const CARD = 80;
export const BLOCK = 2880;

/** A card given as raw text (padded to 80) or as [keyword, value, comment?] written in fixed format. */
export type CardSpec = string | readonly [keyword: string, value: FitsValue, comment?: string];

/** One 80-character card in the FITS fixed format (values right-justified to column 30, strings quoted). */
export function card(keyword: string, value: FitsValue, comment?: string): string {
  const head = `${keyword.padEnd(8)}= `;
  let text: string;
  if (typeof value === "string") text = `'${value.replace(/'/g, "''").padEnd(8)}'`.padEnd(20);
  else if (typeof value === "boolean") text = (value ? "T" : "F").padStart(20);
  else if (value === null) text = "".padStart(20);
  else text = String(value).padStart(20);
  const withComment = comment === undefined ? head + text : `${head}${text} / ${comment}`;
  return withComment.padEnd(CARD).slice(0, CARD);
}

/** Header text: the cards, END, padded with blanks to whole 2880-byte blocks. */
export function buildFitsHeader(cards: readonly CardSpec[]): string {
  const text = cards.map((spec) => (typeof spec === "string" ? spec.padEnd(CARD).slice(0, CARD) : card(...spec))).join("");
  const withEnd = text + "END".padEnd(CARD);
  return withEnd.padEnd(Math.ceil(withEnd.length / BLOCK) * BLOCK);
}

/** A FITS HDU: header blocks, then the data padded with zeros to whole blocks. */
export function buildFits(options: { header: readonly CardSpec[]; dataBytes?: Uint8Array }): Uint8Array {
  const header = Buffer.from(buildFitsHeader(options.header), "latin1");
  const data = options.dataBytes ?? new Uint8Array(0);
  const out = new Uint8Array(header.length + Math.ceil(data.length / BLOCK) * BLOCK);
  out.set(header, 0);
  out.set(data, header.length);
  return out;
}

/** A primary header for an image of 8-bit pixels, followed by the given extra cards. */
export function imageCards(pixels: number, extra: readonly CardSpec[] = []): CardSpec[] {
  return [
    ["SIMPLE", true, "conforms to FITS standard"],
    ["BITPIX", 8, "array data type"],
    ["NAXIS", 1, "number of array dimensions"],
    ["NAXIS1", pixels],
    ...extra,
  ];
}

/** bzip2 compression by libbzip2 in WebAssembly, no binary needed (block size level 1–9: 100k–900k). */
export function bzip2(bytes: Uint8Array, level = 9): Uint8Array {
  return new Uint8Array(compressBzip2(bytes, level));
}

export function gzip(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(gzipSync(bytes));
}

/**
 * A .fits.fz layout as fpack writes it: an empty primary HDU, then a BINTABLE with ZIMAGE = T holding the image's
 * keywords (ZBITPIX, ZNAXISn, …). The table data are dummy bytes: only headers are read.
 */
export function buildFitsFz(
  imageCards: readonly CardSpec[],
  options: { primaryCards?: readonly CardSpec[]; tableBytes?: number } = {},
): Uint8Array {
  const tableBytes = options.tableBytes ?? 5760;
  const primary = buildFits({
    header: [["SIMPLE", true], ["BITPIX", 8], ["NAXIS", 0], ["EXTEND", true], ...(options.primaryCards ?? [])],
  });
  const table = buildFits({
    header: [
      ["XTENSION", "BINTABLE", "binary table extension"],
      ["BITPIX", 8],
      ["NAXIS", 2],
      ["NAXIS1", 8],
      ["NAXIS2", tableBytes / 8],
      ["PCOUNT", 0],
      ["GCOUNT", 1],
      ["TFIELDS", 1],
      ["TTYPE1", "COMPRESSED_DATA"],
      ["TFORM1", "1PB(2880)"],
      ["ZIMAGE", true, "extension contains compressed image"],
      ["ZTILE1", 9600],
      ["ZTILE2", 1],
      ["ZCMPTYPE", "RICE_1"],
      ["ZNAME1", "BLOCKSIZE"],
      ["ZVAL1", 32],
      ["ZNAME2", "BYTEPIX"],
      ["ZVAL2", 2],
      ["ZQUANTIZ", "NO_DITHER"],
      ...(imageCards.some((spec) => typeof spec !== "string" && spec[0] === "EXTNAME")
        ? []
        : [["EXTNAME", "COMPRESSED_IMAGE"] as const]),
      ...imageCards,
    ],
    dataBytes: pseudoRandomBytes(tableBytes, 7),
  });
  return concatBytes([primary, table]);
}

/** Deterministic noise (xorshift32), so fixtures are the same on every run. */
export function pseudoRandomBytes(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out[i] = state & 0xff;
  }
  return out;
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

/** A source of chunks that counts what its consumer pulled and whether it was released early. */
export interface CountingSource extends AsyncIterable<Uint8Array> {
  readonly bytesPulled: number;
  readonly released: boolean;
}

export function countingSource(bytes: Uint8Array, chunkSize = 16_384): CountingSource {
  const state = { bytesPulled: 0, released: false };
  return {
    get bytesPulled() {
      return state.bytesPulled;
    },
    get released() {
      return state.released;
    },
    [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
      let offset = 0;
      return {
        async next() {
          if (offset >= bytes.length) return { done: true, value: undefined };
          const chunk = bytes.subarray(offset, offset + chunkSize);
          offset += chunk.length;
          state.bytesPulled += chunk.length;
          return { done: false, value: chunk };
        },
        async return() {
          state.released = true;
          return { done: true, value: undefined };
        },
      };
    },
  };
}
