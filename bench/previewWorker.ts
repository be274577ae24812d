import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import sharp from "sharp";
import { imageOfFits } from "@archive/core/downloads/conversions";
import { PREVIEW_JPEG_QUALITY, PREVIEW_LONG_SIDE, previewJpgOfFits } from "@archive/core/previews/fitsPreviews";
import { stretchToGrey, zscale } from "@archive/core/previews/stretch";
import type { PreviewWorkerResult } from "./previews";
import { runAsWorker } from "./worker";

/**
 * One preview in a fresh process, forked by previews.ts: the .fits.fz read into memory (as makePreviews holds the
 * object it got from S3), the preview made once (the figure: a cold function's first call), the RSS high-water mark
 * taken, then made again in parts for where the time goes.
 */
const mib = (bytes: number) => bytes / 1024 / 1024;

async function main(): Promise<PreviewWorkerResult> {
  const input = readFileSync(process.argv[2] ?? "");
  const baselineRssMb = mib(process.memoryUsage().rss);
  let t0 = performance.now();
  const jpg = await previewJpgOfFits(input, "fz");
  const firstMs = performance.now() - t0;
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  const { width = 0, height = 0 } = await sharp(jpg).metadata();

  t0 = performance.now();
  const image = await imageOfFits(input, "fz");
  const t1 = performance.now();
  const range = zscale(image);
  const t2 = performance.now();
  const grey = stretchToGrey(image, range);
  const t3 = performance.now();
  const [frameWidth = 0, frameHeight = 0] = image.axes;
  await sharp(grey, { raw: { width: frameWidth, height: frameHeight, channels: 1 }, limitInputPixels: false })
    .resize({ width: PREVIEW_LONG_SIDE, height: PREVIEW_LONG_SIDE, fit: "inside" })
    .toColourspace("b-w")
    .jpeg({ quality: PREVIEW_JPEG_QUALITY })
    .toBuffer();
  const t4 = performance.now();
  const result: PreviewWorkerResult = {
    inputBytes: input.length,
    jpgBytes: jpg.length,
    jpgWidth: width,
    jpgHeight: height,
    firstMs,
    baselineRssMb,
    peakRssMb,
    decodeMs: t1 - t0,
    zscaleMs: t2 - t1,
    stretchMs: t3 - t2,
    resizeEncodeMs: t4 - t3,
    range,
  };
  return result;
}

runAsWorker(main);
