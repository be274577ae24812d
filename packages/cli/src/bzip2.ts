import { createRequire } from "node:module";

/**
 * bzip2 compression for demo fits files, by compressjs (pure JavaScript, no native build). It ships no types, so its
 * one function we use is checked at load instead of declared.
 */
type Compress = (input: Uint8Array) => Uint8Array;

function loadCompressor(): Compress {
  const loaded: unknown = createRequire(import.meta.url)("compressjs");
  if (typeof loaded === "object" && loaded !== null && "Bzip2" in loaded) {
    const bzip2: unknown = loaded.Bzip2;
    if (typeof bzip2 === "object" && bzip2 !== null && "compressFile" in bzip2 && typeof bzip2.compressFile === "function") {
      const compressFile: (input: Uint8Array) => unknown = bzip2.compressFile.bind(bzip2);
      return (input) => {
        const output = compressFile(input);
        if (!(output instanceof Uint8Array)) throw new TypeError("compressjs returned no bytes");
        return output;
      };
    }
  }
  throw new TypeError("compressjs does not export Bzip2.compressFile");
}

let compressor: Compress | undefined;

export function bzip2(input: Uint8Array): Buffer {
  compressor ??= loadCompressor();
  return Buffer.from(compressor(input));
}
