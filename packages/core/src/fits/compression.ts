import { Readable, pipeline } from "node:stream";
import { createGunzip } from "node:zlib";
import unbzip2Stream from "unbzip2-stream";
import { InvalidInputError } from "../platform/errors";

/*
 * Decompression as chunk streams that pull their input only as their output is read, so reading a header stops
 * fetching and decoding soon after END instead of at the end of the file.
 */

/** bzip2 decoding on demand: unbzip2-stream decodes synchronously inside write(), one bzip2 block at a time. */
export async function* bunzip2Chunks(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const decoder = unbzip2Stream();
  const output: Buffer[] = [];
  let failure: unknown = null;
  decoder.on("data", (chunk: Buffer) => output.push(chunk));
  decoder.on("error", (error: unknown) => {
    failure = error;
  });
  const invalid = () =>
    new InvalidInputError(`the file is not valid bzip2 data: ${describe(failure)}`, "compression");
  try {
    for await (const chunk of source) {
      decoder.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      yield* drain(output);
      if (failure !== null) throw invalid();
    }
    decoder.end();
    yield* drain(output);
    if (failure !== null) throw invalid();
  } finally {
    decoder.destroy();
  }
}

function* drain(output: Buffer[]): Generator<Uint8Array> {
  for (let chunk = output.shift(); chunk !== undefined; chunk = output.shift()) yield chunk;
}

/** gzip decoding through zlib with stream backpressure, so only a little input is read ahead of the header. */
export async function* gunzipChunks(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const input = Readable.from(source, { highWaterMark: 1 });
  // Errors reach the loop below through the stream iterator; the callback only lets the pipeline complete.
  const inflated = pipeline(input, createGunzip(), () => undefined);
  try {
    for await (const chunk of inflated) yield chunk as Buffer;
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
