import type { Compression } from "../names/fileName";
import { parseHeaderText } from "./cards";
import { bunzip2Chunks, gunzipChunks } from "./compression";
import { InvalidInputError } from "../platform/errors";
import { BLOCK_LENGTH, CARD_LENGTH, MAX_HEADER_BLOCKS, MAX_HEADER_CARDS, MAX_HEADER_DECOMPRESSED_BYTES, type FitsHeader } from "./header";
import { imageHeaderFromCompressed } from "./tileCompressed";

/**
 * Reads the header at the start of a FITS file from a stream of chunks, pulling (and decompressing) only until END;
 * the source is then released. For .fz it returns the image header of the first tile-compressed HDU.
 */
export async function readFitsHeader(source: AsyncIterable<Uint8Array>, compression: Compression): Promise<FitsHeader> {
  const bytes =
    compression === "bz2"
      ? bunzip2Chunks(source, MAX_HEADER_DECOMPRESSED_BYTES)
      : compression === "gz"
        ? gunzipChunks(source, MAX_HEADER_DECOMPRESSED_BYTES)
        : source;
  const reader = new HduReader(bytes[Symbol.asyncIterator]());
  try {
    const primary = await reader.readHeader();
    if (compression !== "fz") return primary;
    return await readCompressedImageHeader(reader, primary);
  } finally {
    await reader.close();
  }
}

/** A .txt header's largest size: MAX_HEADER_CARDS cards, each with a line break. */
export const MAX_HEADER_TEXT_BYTES = MAX_HEADER_CARDS * (CARD_LENGTH + 1);

/** Reads an uploaded header text (cards, with or without line breaks), refusing one longer than a FITS header can be. */
export async function readHeaderText(source: AsyncIterable<Uint8Array>): Promise<FitsHeader> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of source) {
    length += chunk.length;
    if (length > MAX_HEADER_TEXT_BYTES) {
      throw new InvalidInputError(
        `the header text is longer than ${MAX_HEADER_TEXT_BYTES} bytes (${MAX_HEADER_CARDS} cards): not a FITS header`,
        "header",
      );
    }
    chunks.push(chunk);
  }
  return parseHeaderText(Buffer.concat(chunks));
}

/** After the primary header of a .fz file: skip HDUs until the first with ZIMAGE = T and reconstruct its header. */
async function readCompressedImageHeader(reader: HduReader, primary: FitsHeader): Promise<FitsHeader> {
  let header = primary;
  for (;;) {
    if (!(await reader.skip(dataLength(header)))) break;
    if (reader.atEnd) break;
    header = await reader.readHeader();
    if (header.cards.ZIMAGE === true) return imageHeaderFromCompressed(header);
  }
  primary.problems.push("no tile-compressed image HDU (ZIMAGE = T) after the primary header");
  return primary;
}

/** Bytes of data after a header, padded to whole blocks (FITS standard 4.4.1). */
export function dataLength(header: FitsHeader): number {
  const { BITPIX: bitpix, NAXIS: axes, PCOUNT: pcount = 0, GCOUNT: gcount = 1 } = header.cards;
  if (typeof bitpix !== "number" || typeof axes !== "number" || axes <= 0) return 0;
  let elements = 1;
  for (let axis = 1; axis <= axes; axis++) {
    const size = header.cards[`NAXIS${axis}`];
    elements *= typeof size === "number" ? size : 0;
  }
  const groups = typeof gcount === "number" ? gcount : 1;
  const parameters = typeof pcount === "number" ? pcount : 0;
  const bytes = (Math.abs(bitpix) / 8) * groups * (parameters + elements);
  return Math.ceil(bytes / BLOCK_LENGTH) * BLOCK_LENGTH;
}

/** Assembles whole blocks from a chunk stream and hands out one HDU header at a time. */
class HduReader {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  private exhausted = false;

  constructor(private readonly iterator: AsyncIterator<Uint8Array>) {}

  get atEnd(): boolean {
    return this.exhausted && this.buffered === 0;
  }

  async readHeader(): Promise<FitsHeader> {
    const blocks: Uint8Array[] = [];
    for (;;) {
      while (this.buffered < BLOCK_LENGTH && (await this.pull()));
      if (this.buffered === 0) break;
      const block = this.take(Math.min(BLOCK_LENGTH, this.buffered));
      blocks.push(block);
      if (holdsEndCard(block) || block.length < BLOCK_LENGTH) break;
      if (blocks.length >= MAX_HEADER_BLOCKS) {
        throw new InvalidInputError(
          `no END card in the first ${MAX_HEADER_BLOCKS} header blocks (${MAX_HEADER_BLOCKS * BLOCK_LENGTH} bytes): not a FITS header`,
          "header",
        );
      }
    }
    return parseHeaderText(Buffer.concat(blocks));
  }

  /** Discards n bytes; false if the input ended first. */
  async skip(bytes: number): Promise<boolean> {
    let remaining = bytes;
    while (remaining > 0) {
      if (this.buffered === 0 && !(await this.pull())) return false;
      const first = this.chunks[0];
      if (first === undefined) return false;
      if (first.length <= remaining) {
        this.chunks.shift();
        this.buffered -= first.length;
        remaining -= first.length;
      } else {
        this.chunks[0] = first.subarray(remaining);
        this.buffered -= remaining;
        remaining = 0;
      }
    }
    return true;
  }

  async close(): Promise<void> {
    await this.iterator.return?.();
  }

  private async pull(): Promise<boolean> {
    if (this.exhausted) return false;
    const result = await this.iterator.next();
    if (result.done === true) {
      this.exhausted = true;
      return false;
    }
    if (result.value.length > 0) {
      this.chunks.push(result.value);
      this.buffered += result.value.length;
    }
    return true;
  }

  private take(length: number): Uint8Array {
    const out = new Uint8Array(length);
    let filled = 0;
    while (filled < length) {
      const first = this.chunks[0];
      if (first === undefined) break;
      const count = Math.min(first.length, length - filled);
      out.set(first.subarray(0, count), filled);
      filled += count;
      if (count === first.length) this.chunks.shift();
      else this.chunks[0] = first.subarray(count);
    }
    this.buffered -= filled;
    return out;
  }
}

const SPACE = 32;

function holdsEndCard(block: Uint8Array): boolean {
  for (let offset = 0; offset < block.length; offset += CARD_LENGTH) {
    if (block[offset] !== 69 || block[offset + 1] !== 78 || block[offset + 2] !== 68) continue;
    let blank = true;
    for (let column = 3; column < 8 && offset + column < block.length; column++) {
      if (block[offset + column] !== SPACE) blank = false;
    }
    if (blank) return true;
  }
  return false;
}
