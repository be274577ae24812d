import { existsSync } from "node:fs";
import { rename, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { z } from "zod";
import type { FitsImage } from "@archive/core/fits/fitsImage";
import { writeTileCompressed } from "@archive/core/fits/tileCompressedWriter";
import { PREVIEWS_MEMORY_MB } from "../stacks/previews";
import { atMost, row, single, stats, type Row } from "./harness";
import { ensureCacheDir } from "./inputs";
import type { BenchOptions } from "./suite";
import { forkWorker } from "./worker";

/**
 * Previews from FITS (issue 13 item 6): the medium jpg of a 9576×6388 16-bit frame made from its .fits.fz (decode,
 * zscale, stretch, resize, encode), in a fresh process per run for the first call's time and the peak RSS that size
 * makePreviews' memory. The frame is generated here (synthetic sky, stars, hot pixels) and written with the archive's
 * own tile-compressed writer: GZIP_2, as no RICE_1 encoder (nor astropy) is at hand; a RICE_1 file decodes at a
 * similar speed in tileCompression.ts (see the conversions bench).
 */
const WIDTH = 9576;
const HEIGHT = 6388;
const FRAME_NAME = `preview_${WIDTH}x${HEIGHT}_u16_gzip2.fits.fz`;

export const previewWorkerResultSchema = z.object({
  inputBytes: z.number(),
  jpgBytes: z.number(),
  jpgWidth: z.number(),
  jpgHeight: z.number(),
  firstMs: z.number(),
  baselineRssMb: z.number(),
  peakRssMb: z.number(),
  decodeMs: z.number(),
  zscaleMs: z.number(),
  stretchMs: z.number(),
  resizeEncodeMs: z.number(),
  range: z.object({ low: z.number(), high: z.number() }),
});
export type PreviewWorkerResult = z.infer<typeof previewWorkerResultSchema>;

/** A night-sky frame: ~1200 ADU with read and shot noise, 3000 stars, 0.05% hot pixels, a saturated corner. */
function skyFrame(): FitsImage {
  let state = 20261130;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  const values = new Float32Array(WIDTH * HEIGHT);
  for (let i = 0; i < values.length; i++) values[i] = 1200 + (next() + next() + next() + next() - 2) * 40;
  for (let star = 0; star < 3000; star++) {
    const [cx, cy, peak] = [next() * WIDTH, next() * HEIGHT, 200 + next() ** 4 * 60_000];
    for (let y = Math.max(0, Math.floor(cy - 6)); y < Math.min(HEIGHT, cy + 6); y++) {
      for (let x = Math.max(0, Math.floor(cx - 6)); x < Math.min(WIDTH, cx + 6); x++) {
        values[y * WIDTH + x] = (values[y * WIDTH + x] ?? 0) + peak * Math.exp(-((x - cx) ** 2 + (y - cy) ** 2) / 4.5);
      }
    }
  }
  for (let i = 0; i < values.length * 0.0005; i++) values[Math.floor(next() * values.length)] = 65535;
  const pixels = new Int16Array(values.length);
  for (let i = 0; i < values.length; i++) pixels[i] = Math.min(65535, Math.max(0, Math.round(values[i] ?? 0))) - 32768;
  return { bitpix: 16, axes: [WIDTH, HEIGHT], pixels, bscale: 1, bzero: 32768, blank: null };
}

async function frame(): Promise<{ path: string; bytes: number; madeSeconds: number | null }> {
  const path = join(await ensureCacheDir(), FRAME_NAME);
  let madeSeconds: number | null = null;
  if (!existsSync(path)) {
    const t0 = performance.now();
    const fz = writeTileCompressed(["DATE-OBS= '2026-11-30T03:00:00.000'"], skyFrame(), { compression: "GZIP_2", level: 6 });
    await writeFile(`${path}.partial`, fz);
    await rename(`${path}.partial`, path);
    madeSeconds = (performance.now() - t0) / 1000;
  }
  return { path, bytes: (await stat(path)).size, madeSeconds };
}

function runWorker(path: string): Promise<PreviewWorkerResult> {
  return forkWorker("previewWorker.ts", [path], previewWorkerResultSchema);
}

const mb = (bytes: number) => bytes / 1e6;

export async function benchPreviews(options: BenchOptions): Promise<Row[]> {
  const input = await frame();
  const results: PreviewWorkerResult[] = [];
  for (let run = 0; run < (options.quick ? 1 : 3); run++) results.push(await runWorker(input.path));
  const last = results.at(-1);
  if (!last) return [];
  const first = stats(results.map((result) => result.firstMs));
  const peak = stats(results.map((result) => result.peakRssMb));
  const baseline = stats(results.map((result) => result.baselineRssMb));
  return [
    row({
      bench: "previews",
      figure: "input: .fits.fz frame",
      unit: "MB",
      stats: single(mb(input.bytes)),
      better: "lower",
      note: `${WIDTH}×${HEIGHT} u16, GZIP_2 tiles of one row (fits/tileCompressedWriter.ts); synthetic sky ~1200 ADU, 3000 stars, hot pixels; ${input.madeSeconds === null ? "from bench/.cache" : `written now in ${input.madeSeconds.toFixed(0)} s`}`,
    }),
    row({
      bench: "previews",
      figure: "previewJpgOfFits (decode + zscale + stretch + resize + jpeg): first call, fresh process",
      unit: "ms",
      stats: first,
      better: "lower",
      target: atMost(30_000, "≤ 30 s"),
      note: `${results.length} fresh processes; second call in parts: decode ${last.decodeMs.toFixed(0)} ms, zscale ${last.zscaleMs.toFixed(0)} ms, stretch ${last.stretchMs.toFixed(0)} ms, sharp resize + jpeg ${last.resizeEncodeMs.toFixed(0)} ms; jpg ${last.jpgWidth}×${last.jpgHeight}, ${(last.jpgBytes / 1024).toFixed(0)} KiB; zscale range ${last.range.low.toFixed(0)}–${last.range.high.toFixed(0)} ADU`,
    }),
    row({
      bench: "previews",
      figure: "  peak RSS (process high-water mark)",
      unit: "MB",
      stats: peak,
      better: "lower",
      target: atMost(PREVIEWS_MEMORY_MB, `< ${PREVIEWS_MEMORY_MB} MB`),
      note: `process.resourceUsage().maxRSS (MiB); ${baseline.median.toFixed(0)} MB before (Node, tsx, modules, the input); makePreviews has ${PREVIEWS_MEMORY_MB} MB`,
    }),
  ];
}
