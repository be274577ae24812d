import { isMediumJpg, thumbnailKey, type ArchiveObjectKey } from "../names/fileName";
import type { AwsContext } from "../platform/context";
import { InvalidInputError } from "../platform/errors";
import { MetricUnit } from "../platform/logger";
import { getObjectBytes, putObject } from "../platform/s3";
import { loadSharp } from "../platform/sharp";
import { quarantineObject } from "../quarantine/quarantine";

/**
 * A thumbnail of a jpg, `height` pixels high with the aspect kept, made in memory. Resizing by height lets libjpeg
 * shrink while decoding (shrink-on-load), so a 3072x2048 jpg is never decoded at full size; the cost is mostly the
 * entropy decoding, which no kernel or encoder setting changes much. A greyscale jpg (the cameras' medium jpgs) gets
 * a greyscale thumbnail, as the replaced system made: no conversion to sRGB and one channel to encode, not three.
 * A jpg sharp cannot read is bad input.
 */
export async function makeThumbnail(jpg: Buffer, height: number): Promise<Buffer> {
  const sharp = await loadSharp();
  try {
    return await sharp(jpg)
      .resize({ height, kernel: "linear", fastShrinkOnLoad: true })
      .toColourspace(jpegComponents(jpg) === 1 ? "b-w" : "srgb")
      .jpeg({ quality: 80, optimiseCoding: false })
      .toBuffer();
  } catch (error) {
    if (!(error instanceof Error)) throw error;
    throw new InvalidInputError(`cannot make a thumbnail: ${error.message}`, "jpg", "corrupt_jpg");
  }
}

/** The start-of-frame markers (0xc0–0xcf less DHT, JPG and DAC): their segment holds the component count. */
const startOfFrame = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);

/**
 * How many colour components a jpg's frame header declares (1 is greyscale), or undefined when its header segments
 * lead to no frame. Read from the bytes: sharp's metadata() would cost a pipeline of its own.
 */
function jpegComponents(jpg: Buffer): number | undefined {
  if (jpg.length < 4 || jpg.readUInt16BE(0) !== 0xffd8) return undefined;
  let at = 2;
  while (at + 4 <= jpg.length && jpg.readUInt8(at) === 0xff) {
    const marker = jpg.readUInt8(at + 1);
    if (marker === 0xff) at += 1; // a marker may be padded with 0xff fill bytes
    else if (startOfFrame.has(marker)) return at + 9 < jpg.length ? jpg.readUInt8(at + 9) : undefined;
    else if (marker === 0xda || marker === 0xd9) return undefined;
    else at += 2 + jpg.readUInt16BE(at + 2);
  }
  return undefined;
}

/** A thumbnail made in memory and the key it is stored under. */
export interface Thumbnail {
  key: string;
  bytes: Buffer;
}

/**
 * The thumbnail of a medium jpg (reduction 10 or 13), read and made, not yet stored; the thumbnail's own event then
 * records it like any upload. A thumbnail (reduction 11) is never a medium jpg, so nothing is made from one. A corrupt
 * jpg gets none, and is quarantined. A jpg that is gone is NotFoundError (the event is acknowledged).
 */
export async function thumbnailOf(
  ctx: Pick<AwsContext, "s3" | "config" | "log" | "metrics" | "dynamo" | "tables" | "clock">,
  file: ArchiveObjectKey,
): Promise<Thumbnail | undefined> {
  if (!isMediumJpg(file)) return undefined;
  const jpg = await getObjectBytes(ctx, file.key);
  try {
    return { key: thumbnailKey(file), bytes: await makeThumbnail(jpg, ctx.config.THUMBNAIL_HEIGHT) };
  } catch (error) {
    if (!(error instanceof InvalidInputError)) throw error;
    ctx.log.error("no thumbnail: the jpg cannot be read", { error: error.message });
    ctx.metrics.addMetric("ThumbnailsSkipped", MetricUnit.Count, 1);
    // Its row records it; the quarantine says it has no thumbnail, until it is fixed and re-ingested.
    await quarantineObject(ctx, { key: file.key, error });
    return undefined;
  }
}

/** Writes a thumbnail next to its jpg. */
export async function storeThumbnail(ctx: Pick<AwsContext, "s3" | "config">, thumbnail: Thumbnail): Promise<void> {
  await putObject(ctx, thumbnail.key, thumbnail.bytes, "image/jpeg");
}
