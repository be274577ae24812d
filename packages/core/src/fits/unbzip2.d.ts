// The decoder inside unbzip2-stream (pinned in package.json), which compression.ts drives block by block.
declare module "unbzip2-stream/lib/bzip2.js" {
  type BitReader = import("unbzip2-stream/lib/bit_iterator.js").BitReader;
  const bzip2: {
    /** Reads "BZh" and the level; returns the block size in units of 100 kB (1–9). */
    header(bits: BitReader): number;
    /** Decodes one block through `write`; returns the running stream CRC, or null at the end-of-stream marker. */
    decompress(bits: BitReader, write: (byte: number) => void, buffer: Int32Array, bufferSize: number, streamCrc: number | null): number | null;
  };
  export default bzip2;
}

declare module "unbzip2-stream/lib/bit_iterator.js" {
  export interface BitReader {
    (bits: number | null): number;
    bytesRead: number;
  }
  export default function bitIterator(nextBuffer: () => Uint8Array | undefined): BitReader;
}
