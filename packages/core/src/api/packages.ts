import { z } from "zod";
import { infoImage, type InfoChannel } from "../infoImages/infoChannels";
import { parseBaseFilename } from "../names/fileName";
import type { ArchiveContext, AwsContext } from "../platform/context";
import { ArchiveError, NotFoundError } from "../platform/errors";
import { presignDownload } from "../platform/presign";
import { findHeader, findImage, latestImages } from "../exposures/imageStore";
import type { ImageRow } from "../exposures/imagesTable";

type LinkContext = Pick<AwsContext, "s3" | "s3Public" | "config">;

/**
 * The read API's shapes: what the frontend receives for one exposure. Field names are the replaced API's, dates are
 * milliseconds since the epoch, and the jpg links are presigned so the bucket stays private.
 */
export interface ImagePackage {
  image_id: number;
  base_filename: string;
  data_type: string | null;
  site: string | null;
  exposure_time: number | null;
  filter_used: string | null;
  right_ascension: number | null;
  declination: number | null;
  azimuth: number | null;
  altitude: number | null;
  airmass: number | null;
  fits_01_exists: boolean;
  fits_10_exists: boolean;
  jpg_medium_exists: boolean;
  jpg_small_exists: boolean;
  s3_directory: "data";
  username: string | null;
  user_id: string | null;
  capture_date: number | null;
  sort_date: number | null;
  /** Presigned GET of the medium jpg, "" when there is none. */
  jpg_url: string;
  /** Presigned GET of the thumbnail, "" when there is none. */
  jpg_thumbnail_url: string;
}

export const MAX_LATEST_IMAGES = 500;

/** The medium jpg the exposure has (reduction 10, or 13 where the row says so) and the thumbnail (reduction 11). */
async function jpgUrl(ctx: LinkContext, row: ImageRow, exists: boolean, reduction: string): Promise<string> {
  if (!exists || !row.data_type) return "";
  return presignDownload(ctx, `data/${row.base_filename}-${row.data_type}${reduction}.jpg`);
}

export async function toImagePackage(ctx: LinkContext, row: ImageRow): Promise<ImagePackage> {
  const [jpg_url, jpg_thumbnail_url] = await Promise.all([
    jpgUrl(ctx, row, row.jpg_medium_exists, row.jpg_medium_reduction ?? "10"),
    jpgUrl(ctx, row, row.jpg_small_exists, "11"),
  ]);
  return {
    image_id: row.image_id,
    base_filename: row.base_filename,
    data_type: row.data_type,
    site: row.site,
    exposure_time: row.exposure_time,
    filter_used: row.filter_used,
    right_ascension: row.right_ascension,
    declination: row.declination,
    azimuth: row.azimuth,
    altitude: row.altitude,
    airmass: row.airmass,
    fits_01_exists: row.fits_01_exists,
    fits_10_exists: row.fits_10_exists,
    jpg_medium_exists: row.jpg_medium_exists,
    jpg_small_exists: row.jpg_small_exists,
    s3_directory: "data",
    username: row.username,
    user_id: row.user_id,
    capture_date: row.capture_date?.getTime() ?? null,
    sort_date: row.sort_date?.getTime() ?? null,
    jpg_url,
    jpg_thumbnail_url,
  };
}

/** One exposure by base filename; 404 when the archive has no row for it. */
export async function imagePackage(ctx: ArchiveContext, baseFilename: string): Promise<ImagePackage> {
  parseBaseFilename(baseFilename);
  const row = await findImage(ctx.db, baseFilename);
  if (!row) throw new NotFoundError(`no image ${baseFilename} in the archive`);
  return toImagePackage(ctx, row);
}

/** A site's newest exposures with a medium jpg, newest first; 404 when the site has none at all. */
export async function latestImagePackages(ctx: ArchiveContext, site: string, limit: number): Promise<ImagePackage[]> {
  const rows = await latestImages(ctx.db, site, limit);
  if (rows.length === 0) throw new NotFoundError(`no images of site ${site} in the archive`);
  return Promise.all(rows.map((row) => toImagePackage(ctx, row)));
}

/** An info channel's current image: its files' flags and presigned jpg links; expires_at in ms since the epoch. */
export interface InfoImagePackage {
  site: string;
  channel: InfoChannel;
  base_filename: string;
  s3_directory: "info-images";
  fits_01_exists: boolean;
  fits_10_exists: boolean;
  jpg_medium_exists: boolean;
  jpg_small_exists: boolean;
  jpg_url: string;
  jpg_thumbnail_url: string;
  expires_at: number;
}

/** A site's info channel; 404 when the channel shows nothing (never used, or expired). */
export async function infoImagePackage(
  ctx: Pick<AwsContext, "dynamo" | "tables" | "log" | "clock"> & LinkContext,
  site: string,
  channel: InfoChannel,
): Promise<InfoImagePackage> {
  const image = await infoImage(ctx, site, channel, ctx.clock());
  if (!image) throw new NotFoundError(`no info image on channel ${channel} of site ${site}`);
  const link = async (exists: boolean | undefined, key: string | undefined) =>
    exists && key ? presignDownload(ctx, key) : "";
  const [jpg_url, jpg_thumbnail_url] = await Promise.all([
    link(image.jpg_medium_exists, image.jpg_medium_key),
    link(image.jpg_small_exists, image.jpg_small_key),
  ]);
  return {
    site,
    channel,
    base_filename: image.base_filename,
    s3_directory: "info-images",
    fits_01_exists: image.fits_01_exists ?? false,
    fits_10_exists: image.fits_10_exists ?? false,
    jpg_medium_exists: image.jpg_medium_exists ?? false,
    jpg_small_exists: image.jpg_small_exists ?? false,
    jpg_url,
    jpg_thumbnail_url,
    expires_at: image.expires_at * 1000,
  };
}

const headerObjectSchema = z.record(z.unknown());

/** The stored FITS header of one exposure, as the JSON object it was recorded from. */
export async function fitsHeaderObject(ctx: Pick<ArchiveContext, "db">, baseFilename: string): Promise<Record<string, unknown>> {
  parseBaseFilename(baseFilename);
  const text = await findHeader(ctx.db, baseFilename);
  if (text === undefined || text === "") throw new NotFoundError(`no FITS header of ${baseFilename} in the archive`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    // The column is only written from parsed headers, so unparsable text is a fault of ours, not the caller's.
    throw new ArchiveError(`the stored header of ${baseFilename} is not JSON`, "stored_header_invalid", false, 500, {
      cause: error,
    });
  }
  const parsed = headerObjectSchema.safeParse(value);
  if (!parsed.success) {
    throw new ArchiveError(`the stored header of ${baseFilename} is not a JSON object`, "stored_header_invalid", false, 500);
  }
  return parsed.data;
}
