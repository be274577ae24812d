import { isMediumJpg, thumbnailKey, type ArchiveObjectKey } from "../names/fileName";
import type { AwsContext } from "../platform/context";
import { InvalidInputError } from "../platform/errors";
import { MetricUnit } from "../platform/logger";
import { getObjectBytes, putObject } from "../platform/s3";
import { loadSharp } from "../platform/sharp";

/**
 * A thumbnail of a jpg, `height` pixels high with the aspect kept, made in memory. Resizing by height lets libjpeg
 * shrink while decoding (shrink-on-load), so a 3072x2048 jpg is never decoded at full size; the cost is mostly the
 * entropy decoding, which no kernel or encoder setting changes much. A jpg sharp cannot read is bad input.
 */
export async function makeThumbnail(jpg: Buffer, height: number): Promise<Buffer> {
  const sharp = await loadSharp();
  try {
    return await sharp(jpg)
      .resize({ height, kernel: "linear", fastShrinkOnLoad: true })
      .jpeg({ quality: 80, optimiseCoding: false })
      .toBuffer();
  } catch (error) {
    if (!(error instanceof Error)) throw error;
    throw new InvalidInputError(`cannot make a thumbnail: ${error.message}`, "jpg", "corrupt_jpg");
  }
}

/**
 * A medium jpg (reduction 10 or 13) gets its thumbnail next to it; the thumbnail's own event then records it like any
 * upload. A thumbnail (reduction 11) is never a medium jpg, so nothing is made from one. A corrupt jpg gets none.
 */
export async function storeThumbnailOf(ctx: Pick<AwsContext, "s3" | "config" | "log" | "metrics">, file: ArchiveObjectKey): Promise<void> {
  if (!isMediumJpg(file)) return;
  const jpg = await getObjectBytes(ctx, file.key);
  let thumbnail: Buffer;
  try {
    thumbnail = await makeThumbnail(jpg, ctx.config.THUMBNAIL_HEIGHT);
  } catch (error) {
    if (!(error instanceof InvalidInputError)) throw error;
    ctx.log.error("no thumbnail: the jpg cannot be read", { error: error.message });
    ctx.metrics.addMetric("ThumbnailsSkipped", MetricUnit.Count, 1);
    return;
  }
  await putObject(ctx, thumbnailKey(file), thumbnail, "image/jpeg");
}
