import { spawn, spawnSync } from "node:child_process";
import { createReadStream, createWriteStream, existsSync } from "node:fs";
import { rename, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { pipeline } from "node:stream/promises";
import { z } from "zod";
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
// 364 blocks: the image is exactly 30 such chunks, so the pure-JS fallback can repeat one compressed chunk.
const CHUNK = 364 * BLOCK;

export interface GeneratedFits {
  fitsPath: string;
  bz2Path: string;
  fitsBytes: number;
  bz2Bytes: number;
  /** "bzip2 binary" or "compressjs"; how long compression took when it ran now, else null (cached). */
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

const compressjsSchema = z.object({
  Bzip2: z.object({
    compressFile: z.custom<(data: Uint8Array) => ArrayLike<number>>((value) => typeof value === "function"),
  }),
});

/**
 * compressjs needs ~4 s per MB here (the binary ~0.15 s), so the pure-JS fallback compresses the header block plus
 * one 1 MB chunk, and one further chunk that it repeats: bzip2 streams concatenate into one valid multi-stream file.
 */
async function compressWithJs(fitsHead: Buffer, chunks: Generator<Buffer>, target: string): Promise<void> {
  const compressjs = compressjsSchema.parse(createRequire(import.meta.url)("compressjs"));
  const compress = (data: Buffer): Buffer => Buffer.from(Array.from(compressjs.Bzip2.compressFile(data)));
  const first = chunks.next().value ?? Buffer.alloc(0);
  const second = chunks.next().value ?? Buffer.alloc(0);
  const out = createWriteStream(target);
  out.write(compress(Buffer.concat([fitsHead, first])));
  const repeated = compress(second);
  for (let written = first.length; written < DATA_BYTES; written += second.length) out.write(repeated);
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
}

export async function generatedFits(): Promise<GeneratedFits> {
  const dir = await ensureCacheDir();
  const fitsPath = join(dir, FITS_NAME);
  const bz2Path = `${fitsPath}.bz2`;
  const binary = hasBzip2();
  const compressor = binary ? "bzip2 binary" : "compressjs";
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
    else await compressWithJs(headerBlocks(), pixelChunks(), partial);
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
  const compressjs = compressjsSchema.parse(createRequire(import.meta.url)("compressjs"));
  return Buffer.from(Array.from(compressjs.Bzip2.compressFile(fits)));
}
