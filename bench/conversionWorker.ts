import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { z } from "zod";
import { imageOfFits, plainFitsFromTileCompressed, tiffOfFits } from "@archive/core/downloads/conversions";
import { makeTiff } from "@archive/core/downloads/tiff";
import { bzip2 } from "@archive/core/platform/bzip2";
import { conversionKinds, type ConversionKind, type WorkerResult } from "./conversions";
import { runAsWorker } from "./worker";

/**
 * One conversion in a fresh process, forked by conversions.ts: the .fits.fz is read into memory (as the download
 * function holds the object it got from S3), converted once (the figure: a cold function's first call, sharp and the
 * bzip2 WebAssembly loaded on it), the process's RSS high-water mark taken, then converted again in parts for where the
 * time goes. The result goes back over the IPC channel.
 */
const mb = (bytes: number) => bytes / 1024 / 1024;

async function convert(kind: ConversionKind, input: Buffer): Promise<Buffer> {
  return kind === "plainFits" ? plainFitsFromTileCompressed(input) : tiffOfFits(input, "fz", "arcsinh");
}

async function main(): Promise<WorkerResult> {
  const kind = z.enum(conversionKinds).parse(process.argv[2]);
  const path = z.string().parse(process.argv[3]);
  const input = readFileSync(path);
  const baselineRssMb = mb(process.memoryUsage().rss);
  let t0 = performance.now();
  let output: Buffer | undefined = await convert(kind, input);
  const firstMs = performance.now() - t0;
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  const outputBytes = output.length;
  const head = output.subarray(0, 6).toString("latin1");
  if (kind === "plainFits" ? head !== "SIMPLE" : !head.startsWith("BZh")) throw new Error(`${kind}: output starts ${JSON.stringify(head)}`);
  output = undefined;
  const parts: Record<string, number> = {};
  if (kind === "plainFits") {
    t0 = performance.now();
    await convert(kind, input);
    parts.totalMs = performance.now() - t0;
  } else {
    t0 = performance.now();
    const image = await imageOfFits(input, "fz");
    const t1 = performance.now();
    const tiff = await makeTiff(image, { stretch: "arcsinh" });
    const t2 = performance.now();
    bzip2(tiff);
    const t3 = performance.now();
    Object.assign(parts, { decodeMs: t1 - t0, tiffMs: t2 - t1, bzip2Ms: t3 - t2, totalMs: t3 - t0, tiffBytes: tiff.length });
  }
  const result: WorkerResult = {
    kind,
    inputBytes: input.length,
    outputBytes,
    firstMs,
    secondMs: parts.totalMs ?? Number.NaN,
    baselineRssMb,
    peakRssMb,
    parts,
  };
  return result;
}

runAsWorker(main);
