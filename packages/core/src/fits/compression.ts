import { Readable, pipeline } from "node:stream";
import { createGunzip } from "node:zlib";
import bz2 from "unbzip2-stream/lib/bzip2.js";
import bitIterator from "unbzip2-stream/lib/bit_iterator.js";
import { InvalidInputError } from "../platform/errors";

/*
 * Decompression as chunk streams that pull their input only as their output is read, so reading a header stops
 * fetching and decoding soon after END instead of at the end of the file.
 */

/**
 * bzip2 decoding on demand, with unbzip2-stream's decoder (lib/bzip2.js, one block per call, one byte per callback)
 * driven here rather than through its stream, whose every block becomes a JavaScript array of numbers: a block of
 * blanks (83 bytes of .bz2 can hold 45 MB) cost over 1 GB that way. Bytes go into fixed chunks instead, and decoding
 * stops once `maxOutputBytes` are out, so a header read never holds more than that, whatever the file says.
 */
export async function* bunzip2Chunks(
  source: AsyncIterable<Uint8Array>,
  maxOutputBytes = Number.POSITIVE_INFINITY,
): AsyncGenerator<Uint8Array> {
  const input: Buffer[] = [];
  let received = 0;
  let ended = false;
  const iterator = source[Symbol.asyncIterator]();
  /** Pulls input until `bytes` more than the decoder has read are buffered, or the source ends. */
  const fill = async (read: number, bytes: number): Promise<void> => {
    while (!ended && received - read < bytes) {
      const next = await iterator.next();
      if (next.done === true) ended = true;
      else if (next.value.length > 0) {
        input.push(Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength));
        received += next.value.length;
      }
    }
  };
  const output = new ChunkWriter(maxOutputBytes);
  try {
    await fill(0, 4);
    if (received === 0) return;
    const bits = bitIterator(() => input.shift());
    let blockSize = 0;
    let streamCrc: number | null = 0;
    let buffer = new Int32Array(0);
    for (;;) {
      // A block is decoded synchronously from what is buffered: have a whole one (at most 100 kB per level, plus margin).
      await fill(bits.bytesRead, blockSize === 0 ? BZIP2_HEADER_BYTES : BZIP2_BLOCK_MARGIN + 100_000 * blockSize);
      if (received <= bits.bytesRead) break;
      try {
        if (blockSize === 0) {
          blockSize = bz2.header(bits);
          if (buffer.length < 100_000 * blockSize) buffer = new Int32Array(100_000 * blockSize);
          streamCrc = 0;
          continue;
        }
        streamCrc = bz2.decompress(bits, output.write, buffer, 100_000 * blockSize, streamCrc);
        // The end of one bzip2 stream; another may follow (pbzip2 writes one per thread).
        if (streamCrc === null) blockSize = 0;
      } catch (error) {
        if (error !== OUTPUT_LIMIT) throw invalidBzip2(error);
        yield* output.drain();
        throw outputLimitError(maxOutputBytes);
      }
      yield* output.drain();
    }
    if (blockSize !== 0) throw invalidBzip2(new Error("the bzip2 stream ends before its end-of-stream marker"));
    yield* output.drain();
  } finally {
    await iterator.return?.();
  }
}

/** The bzip2 block format's own slack beyond the block size (unbzip2-stream keeps the same). */
const BZIP2_BLOCK_MARGIN = 25_000;
/** "BZh" and the level. */
const BZIP2_HEADER_BYTES = 4;
const OUTPUT_CHUNK_BYTES = 64 * 1024;
const OUTPUT_LIMIT = Symbol("output limit reached");

/** Collects decoded bytes one at a time into fixed chunks, and stops the decoder (by throwing) at the limit. */
class ChunkWriter {
  private chunks: Uint8Array[] = [];
  private current = Buffer.allocUnsafe(OUTPUT_CHUNK_BYTES);
  private filled = 0;
  private total = 0;

  constructor(private readonly limit: number) {}

  readonly write = (byte: number): void => {
    if (this.total >= this.limit) throw OUTPUT_LIMIT;
    this.current[this.filled++] = byte;
    this.total += 1;
    if (this.filled === OUTPUT_CHUNK_BYTES) {
      this.chunks.push(this.current);
      this.current = Buffer.allocUnsafe(OUTPUT_CHUNK_BYTES);
      this.filled = 0;
    }
  };

  *drain(): Generator<Uint8Array> {
    if (this.filled > 0) {
      this.chunks.push(this.current.subarray(0, this.filled));
      this.current = Buffer.allocUnsafe(OUTPUT_CHUNK_BYTES);
      this.filled = 0;
    }
    const ready = this.chunks;
    this.chunks = [];
    yield* ready;
  }
}

function outputLimitError(maxOutputBytes: number): InvalidInputError {
  return new InvalidInputError(`more than ${maxOutputBytes} bytes decompressed without reaching the end of the header`, "compression");
}

function invalidBzip2(error: unknown): InvalidInputError {
  // A truncated file runs the decoder's bit reader past the last buffer (a TypeError inside it).
  const reason = error instanceof TypeError ? "the bzip2 data ends in the middle of a block" : describe(error);
  return new InvalidInputError(`the file is not valid bzip2 data: ${reason}`, "compression");
}

/**
 * gzip decoding through zlib with stream backpressure, so only a little input is read ahead of the header; reading on
 * past `maxOutputBytes` is refused.
 */
export async function* gunzipChunks(
  source: AsyncIterable<Uint8Array>,
  maxOutputBytes = Number.POSITIVE_INFINITY,
): AsyncGenerator<Uint8Array> {
  const input = Readable.from(source, { highWaterMark: 1 });
  // Errors reach the loop below through the stream iterator; the callback only lets the pipeline complete.
  const inflated = pipeline(input, createGunzip(), () => undefined);
  let total = 0;
  try {
    for await (const chunk of inflated) {
      if (total >= maxOutputBytes) throw outputLimitError(maxOutputBytes);
      const bytes = chunk as Buffer;
      const allowed = Math.min(bytes.length, maxOutputBytes - total);
      total += allowed;
      yield allowed === bytes.length ? bytes : bytes.subarray(0, allowed);
    }
  } catch (error) {
    if (isZlibError(error)) {
      throw new InvalidInputError(`the file is not valid gzip data: ${describe(error)}`, "compression");
    }
    throw error;
  } finally {
    inflated.destroy();
    await closed(input);
  }
}

/** Resolves once a destroyed stream has released its source (Readable.from returns the iterator before 'close'). */
function closed(stream: Readable): Promise<void> {
  if (stream.closed) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once("close", () => resolve());
    stream.destroy();
  });
}

function isZlibError(error: unknown): boolean {
  if (!(error instanceof Error) || !("code" in error)) return false;
  return typeof error.code === "string" && error.code.startsWith("Z_");
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
