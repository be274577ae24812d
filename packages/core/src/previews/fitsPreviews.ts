import { performance } from "node:perf_hooks";
import { imageOfFits } from "../downloads/conversions";
import { exposureFiles } from "../exposures/imageStore";
import {
  fileFlagColumn,
  isMediumJpg,
  objectKeyPrefix,
  parseObjectKey,
  siblingKey,
  type ArchiveObjectKey,
  type Compression,
} from "../names/fileName";
import type { ArchiveContext, AwsContext } from "../platform/context";
import { InvalidInputError, NotFoundError } from "../platform/errors";
import { MetricUnit } from "../platform/logger";
import { getObjectBytes, listKeys, objectMetadata, putNewObject } from "../platform/s3";
import { loadSharp } from "../platform/sharp";
import { recordGeneratedPreview } from "./generatedPreviews";
import { isFits, type PreviewCheck } from "./previewChecks";
import { planeSize, stretchToGrey, zscale } from "./stretch";

/**
 * Previews from FITS: an exposure whose FITS file arrived and whose medium jpg has not come FITS_PREVIEW_DELAY_SECONDS
 * later (or never comes: FITS-only cameras) gets a medium jpg made from its FITS image, written to data/ under the
 * name the site's would have, marked generated (S3 metadata `generated-from`, and a generated_previews row). The data/
 * pipeline then ingests it like any medium jpg: its flag, its thumbnail, its notice. A site's jpg is never replaced.
 */

/** The long side of a generated medium jpg: the cameras' medium jpgs are 1536×1024 (some 3072×2048). */
export const PREVIEW_LONG_SIDE = 1536;
export const PREVIEW_JPEG_QUALITY = 85;
/** The S3 metadata (x-amz-meta-generated-from) that marks a generated jpg, naming the FITS file it was made from. */
export const GENERATED_FROM = "generated-from";

/**
 * A medium jpg of a FITS image: decoded (tile-compressed, bzip2'd, gzipped or plain), zscale-stretched to 8-bit grey
 * (stretch.ts), shrunk to PREVIEW_LONG_SIDE on its long side and encoded; greyscale, as the cameras' jpgs are.
 */
export async function previewJpgOfFits(fits: Buffer, compression: Compression): Promise<Buffer> {
  let image;
  try {
    image = await imageOfFits(fits, compression);
  } catch (error) {
    if (error instanceof InvalidInputError || !(error instanceof Error)) throw error;
    throw new InvalidInputError(`cannot read the FITS image: ${error.message}`, "fits", "corrupt_fits");
  }
  const { width, height } = planeSize(image);
  const grey = stretchToGrey(image, zscale(image));
  const sharp = await loadSharp();
  return sharp(grey, { raw: { width, height, channels: 1 }, limitInputPixels: false })
    .resize({ width: PREVIEW_LONG_SIDE, height: PREVIEW_LONG_SIDE, fit: "inside", withoutEnlargement: true })
    .toColourspace("b-w")
    .jpeg({ quality: PREVIEW_JPEG_QUALITY })
    .toBuffer();
}

export type PreviewOutcome =
  | { status: "generated"; jpgKey: string; sourceKey: string; milliseconds: number }
  /** A medium jpg came from the site (now, or before the preview could be written). */
  | { status: "jpg-present" }
  /** This exposure's preview was made already (a repeated check). */
  | { status: "already-generated" }
  /** Nothing to make it from: no row, or its FITS files are gone (expired, deleted). */
  | { status: "no-fits" };

interface ExposureObjects {
  mediumJpg: string | undefined;
  /** The FITS files to read, best first: the small one (reduction 10, .fits.fz), then the large one (.fits.bz2). */
  fits: ArchiveObjectKey[];
}

async function exposureObjects(ctx: AwsContext, baseFilename: string): Promise<ExposureObjects> {
  const files = (await listKeys(ctx, objectKeyPrefix("data", baseFilename))).flatMap((key) => {
    try {
      return [parseObjectKey(key)];
    } catch (error) {
      if (error instanceof InvalidInputError) return [];
      throw error;
    }
  });
  const rank = (file: ArchiveObjectKey) => (fileFlagColumn(file) === "fits_10_exists" ? 0 : 2) + (file.compression === "fz" ? 0 : 1);
  return {
    mediumJpg: files.find(isMediumJpg)?.key,
    fits: files.filter(isFits).sort((a, b) => rank(a) - rank(b)),
  };
}

/** The first FITS file that is still there, read. */
async function readFirstFits(ctx: AwsContext, candidates: readonly ArchiveObjectKey[]): Promise<{ file: ArchiveObjectKey; bytes: Buffer } | undefined> {
  for (const file of candidates) {
    try {
      return { file, bytes: await getObjectBytes(ctx, file.key) };
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
    }
  }
  return undefined;
}

/**
 * The delayed check: when the exposure still has no medium jpg, make one from its FITS image. Idempotent: a jpg that
 * is there (the site's, or this check's own from an earlier attempt) is never written again, and S3's conditional
 * put refuses to replace one that lands between the last look and the write.
 */
export async function makePreview(ctx: ArchiveContext, check: PreviewCheck): Promise<PreviewOutcome> {
  const { base_filename: baseFilename } = check;
  ctx.log.appendKeys({ base_filename: baseFilename });
  try {
    const known = await exposureFiles(ctx.db, baseFilename);
    if (!known) return { status: "no-fits" };
    if (known.mediumJpg) return { status: "jpg-present" };
    const objects = await exposureObjects(ctx, baseFilename);
    if (objects.mediumJpg) return jpgThere(ctx, baseFilename, objects.mediumJpg);
    const fits = await readFirstFits(ctx, objects.fits);
    if (!fits) return { status: "no-fits" };

    const started = performance.now();
    const jpg = await previewJpgOfFits(fits.bytes, fits.file.compression);
    const milliseconds = Math.round(performance.now() - started);

    // Looked at again just before writing: the site's jpg may have come while the frame was decoded.
    const again = await exposureObjects(ctx, baseFilename);
    if (again.mediumJpg) return jpgThere(ctx, baseFilename, again.mediumJpg);
    const jpgKey = siblingKey(fits.file, { reduction: "10", extension: "jpg", compression: null });
    const written = await putNewObject(ctx, jpgKey, jpg, { contentType: "image/jpeg", metadata: { [GENERATED_FROM]: fits.file.key } });
    if (written === "exists") return jpgThere(ctx, baseFilename, jpgKey);
    await recordGeneratedPreview(ctx.db, { base_filename: baseFilename, source_key: fits.file.key, jpg_key: jpgKey, generated_at: ctx.clock(), milliseconds });
    ctx.metrics.addMetric("PreviewsGenerated", MetricUnit.Count, 1);
    ctx.log.info("preview generated from FITS", { source_key: fits.file.key, jpg_key: jpgKey, milliseconds, jpg_bytes: jpg.length });
    return { status: "generated", jpgKey, sourceKey: fits.file.key, milliseconds };
  } finally {
    ctx.log.removeKeys(["base_filename"]);
  }
}

/**
 * A medium jpg is there: the site's, or one an earlier attempt of this check wrote and did not record (it failed
 * between the put and the row), which is recorded now.
 */
async function jpgThere(ctx: ArchiveContext, baseFilename: string, jpgKey: string): Promise<PreviewOutcome> {
  const source = (await objectMetadata(ctx, jpgKey))?.[GENERATED_FROM];
  if (source === undefined) return { status: "jpg-present" };
  await recordGeneratedPreview(ctx.db, { base_filename: baseFilename, source_key: source, jpg_key: jpgKey, generated_at: ctx.clock(), milliseconds: 0 });
  return { status: "already-generated" };
}
