import { spawn, spawnSync } from "node:child_process";
import { createReadStream, createWriteStream, existsSync } from "node:fs";
import { readFile, rename, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { pipeline } from "node:stream/promises";
import { bzip2 } from "@archive/core/platform/bzip2";
import { ensureCacheDir, loadHeaderText } from "./inputs";

/**
 * A 30 MB FITS image (the shared header, NAXIS2 adjusted) of pseudo-random pixels, so its .bz2 is as large as the
 * file: reading the header must fetch only a small part of it. Generated once into bench/.cache/.
 */
export const FITS_NAME = "sro-kb001ms-20220629-00010442-EX01.fits";
const BLOCK = 2880;
const NAXIS1 = 9600;
const NAXIS2 = 1638;
const DATA_BYTES = NAXIS1 * NAXIS2 * 2;
// 364 blocks: the pixels are generated in 30 such chunks.
const CHUNK = 364 * BLOCK;

export interface GeneratedFits {
  fitsPath: string;
  bz2Path: string;
  fitsBytes: number;
  bz2Bytes: number;
  /** "bzip2 binary" or "bzip2-wasm"; how long compression took when it ran now, else null (cached). */
  compressor: string;
  compressSeconds: number | null;
}

function headerBlocks(): Buffer {
  const text = loadHeaderText().toString("latin1");
  const naxis2 = `NAXIS2  = ${String(NAXIS2).padStart(20)}`.padEnd(80);
  const cards = (text.match(/.{80}/g) ?? []).map((card) => (card.startsWith("NAXIS2  =") ? naxis2 : card));
  const joined = cards.join("");
  return Buffer.from(joined.padEnd(Math.ceil(joined.length / BLOCK) * BLOCK, " "), "latin1");
}

/** xorshift32: fixed seed, so every run measures the same bytes. */
function* pixelChunks(): Generator<Buffer> {
  let state = 20220629;
  let remaining = DATA_BYTES + ((BLOCK - (DATA_BYTES % BLOCK)) % BLOCK);
  while (remaining > 0) {
    const size = Math.min(CHUNK, remaining);
    const chunk = Buffer.allocUnsafe(size);
    for (let i = 0; i + 4 <= size; i += 4) {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      chunk.writeInt32LE(state | 0, i);
    }
    remaining -= size;
    yield chunk;
  }
}

function hasBzip2(): boolean {
  if (process.env.BENCH_BZIP2 === "js") return false;
  return spawnSync("bzip2", ["--help"], { stdio: "ignore" }).status === 0;
}

async function compressWithBinary(source: string, target: string): Promise<void> {
  const child = spawn("bzip2", ["-c", "-9"], { stdio: ["pipe", "pipe", "inherit"] });
  const exited = new Promise<void>((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`bzip2 exited with ${code}`))));
  });
  await Promise.all([
    pipeline(createReadStream(source), child.stdin),
    pipeline(child.stdout, createWriteStream(target)),
    exited,
  ]);
}

/**
 * Without the binary: libbzip2 in WebAssembly (bzip2-wasm), about as fast, and byte for byte what `bzip2 -9` writes. It
 * holds the file and its .bz2 in memory at once (~60 MB).
 */
async function compressWithWasm(source: string, target: string): Promise<void> {
  await writeFile(target, bzip2(await readFile(source), 9));
}

export async function generatedFits(): Promise<GeneratedFits> {
  const dir = await ensureCacheDir();
  const fitsPath = join(dir, FITS_NAME);
  const bz2Path = `${fitsPath}.bz2`;
  const binary = hasBzip2();
  const compressor = binary ? "bzip2 binary" : "bzip2-wasm";
  let compressSeconds: number | null = null;
  if (!existsSync(fitsPath)) {
    const head = headerBlocks();
    const partial = `${fitsPath}.partial`;
    await pipeline(
      (function* () {
        yield head;
        yield* pixelChunks();
      })(),
      createWriteStream(partial),
    );
    await rename(partial, fitsPath);
  }
  if (!existsSync(bz2Path)) {
    const partial = `${bz2Path}.partial`;
    const t0 = performance.now();
    if (binary) await compressWithBinary(fitsPath, partial);
    else await compressWithWasm(fitsPath, partial);
    compressSeconds = (performance.now() - t0) / 1000;
    await rename(partial, bz2Path);
  }
  return {
    fitsPath,
    bz2Path,
    fitsBytes: (await stat(fitsPath)).size,
    bz2Bytes: (await stat(bz2Path)).size,
    compressor,
    compressSeconds,
  };
}

/** A small FITS file (the shared header, a 64×64 image) compressed as .fits.bz2: what the end-to-end burst uploads. */
export function smallFitsBz2(): Buffer {
  const text = loadHeaderText().toString("latin1");
  const side = 64;
  const cards = (text.match(/.{80}/g) ?? []).map((card) =>
    card.startsWith("NAXIS1  =") || card.startsWith("NAXIS2  =") ? `${card.slice(0, 10)}${String(side).padStart(20)}`.padEnd(80) : card,
  );
  const joined = cards.join("");
  const head = Buffer.from(joined.padEnd(Math.ceil(joined.length / BLOCK) * BLOCK, " "), "latin1");
  const data = Buffer.alloc(Math.ceil((side * side * 2) / BLOCK) * BLOCK);
  for (let i = 0; i < side * side; i += 1) data.writeUInt16BE((i * 7919) % 65536, i * 2);
  const fits = Buffer.concat([head, data]);
  if (hasBzip2()) {
    const result = spawnSync("bzip2", ["-c", "-9"], { input: fits, maxBuffer: 16 * 1024 * 1024 });
    if (result.status === 0) return result.stdout;
  }
  return bzip2(fits, 9);
}
