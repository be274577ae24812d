import sharp from "sharp";
import { makeThumbnail } from "@archive/core/exposures/thumbnails";
import { atMost, repeat, row, single, stats, type Row } from "./harness";
import { loadJpgs } from "./inputs";
import type { BenchOptions } from "./suite";

const HEIGHT = 128;
/** The original's Pillow thumbnail() + save, ms per thumbnail, by input width. */
const ORIGINAL_MS: Readonly<Record<number, number>> = { 1536: 3.35, 3072: 8.95 };
const MEMORY_TARGET_MB = 256;

/** One thumbnail at a time (as one Lambda invocation makes it), 128 px high, from the shared medium JPGs. */
export async function benchThumbnails(options: BenchOptions): Promise<Row[]> {
  const rows: Row[] = [];
  const sharpThreads = sharp.concurrency();
  for (const jpg of loadJpgs()) {
    let outputBytes = 0;
    const samples = await repeat(
      async () => {
        outputBytes = (await makeThumbnail(jpg.bytes, HEIGHT)).length;
      },
      { warmup: 5, minRuns: options.quick ? 20 : 60, maxRuns: 2000, minTimeMs: options.quick ? 500 : 3000 },
    );
    const meta = await sharp(await makeThumbnail(jpg.bytes, HEIGHT)).metadata();
    const original = ORIGINAL_MS[jpg.width];
    rows.push(
      row({
        bench: "thumbnails",
        figure: `${jpg.label} → ${meta.width ?? "?"}×${meta.height ?? "?"} jpg`,
        unit: "ms",
        stats: stats(samples),
        better: "lower",
        original,
        target: original === undefined ? undefined : atMost(original, "< original (ratio < 1)"),
        note: `${(jpg.bytes.length / 1024).toFixed(0)} KB in, ${(outputBytes / 1024).toFixed(1)} KB out; sharp ${sharp.versions.sharp}, libvips ${sharp.versions.vips}, ${sharpThreads} libvips threads, sequential calls`,
      }),
    );
  }
  const maxRssMb = process.resourceUsage().maxRSS / 1024;
  rows.push(
    row({
      bench: "thumbnails",
      figure: "peak memory (RSS high-water of this process)",
      unit: "MB",
      stats: single(maxRssMb),
      better: "lower",
      target: atMost(MEMORY_TARGET_MB, `< ${MEMORY_TARGET_MB} MB`),
      note: "process.resourceUsage().maxRSS of the thumbnail benchmark's own Node process (tsx, inputs and sharp included)",
    }),
  );
  return rows;
}
