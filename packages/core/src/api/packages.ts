import { z } from "zod";
import { infoImage, type InfoChannel } from "../infoImages/infoChannels";
import { parseBaseFilename } from "../names/fileName";
import { INFO_IMAGE_LINKS } from "../names/storedFiles";
import type { AwsContext } from "../platform/context";
import { ArchiveError } from "../platform/errors";
import { presignDownload } from "../platform/presign";
import type { ImageRow } from "../exposures/imagesTable";

/**
 * The read API's shapes, as the replaced read API returned them (CONTRACTS.md): field names are its own, dates are
 * milliseconds since the epoch, the header fields are the header's strings, and the links are presigned GETs valid
 * 7 days, so the bucket stays private.
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
  /** The header's ORIGNAME; "" without a header. */
  fits_filename: string;
  /** "{SITEID}/{INSTRUME}/{DAY-OBS}/raw"; "" without a header. */
  fits_path: string;
  SMARTSTK: string;
  SSTKNUM: string;
  capture_date: number | null;
  sort_date: number | null;
  /** Presigned GET of the medium jpg, "" when there is none. */
  jpg_url: string;
  /** Presigned GET of the thumbnail, "" when there is none. */
  jpg_thumbnail_url: string;
}

type LinkContext = Pick<AwsContext, "s3" | "s3Public" | "config">;

const headerObjectSchema = z.record(z.unknown());

/** The stored header as an object; a header that is not a JSON object (legacy rows) reads as none. */
export function storedHeader(text: string | null): Record<string, unknown> | undefined {
  if (text === null || text === "") return undefined;
  try {
    const parsed = headerObjectSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    return undefined;
  }
}

/** A header value as the frontend reads it: the card's string ("" when absent). */
function headerString(header: Record<string, unknown>, keyword: string): string {
  const value = header[keyword];
  if (value === undefined || value === null) return "";
  if (typeof value === "boolean") return value ? "T" : "F";
  return typeof value === "string" ? value : String(value);
}

/** The medium jpg the exposure has (reduction 10, or 13 where the row says so) and the thumbnail (reduction 11). */
async function jpgUrl(ctx: LinkContext, row: ImageRow, exists: boolean, reduction: string): Promise<string> {
  if (!exists || !row.data_type) return "";
  return presignDownload(ctx, `data/${row.base_filename}-${row.data_type}${reduction}.jpg`, "image");
}

/** Flags of rows the replaced service wrote may be NULL: they read as false. */
const flag = (value: boolean | null): boolean => value === true;

export async function toImagePackage(ctx: LinkContext, row: ImageRow): Promise<ImagePackage> {
  const [jpg_url, jpg_thumbnail_url] = await Promise.all([
    jpgUrl(ctx, row, flag(row.jpg_medium_exists), row.jpg_medium_reduction ?? "10"),
    jpgUrl(ctx, row, flag(row.jpg_small_exists), "11"),
  ]);
  const header = storedHeader(row.header);
  const text = (keyword: string) => (header ? headerString(header, keyword) : "");
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
    fits_01_exists: flag(row.fits_01_exists),
    fits_10_exists: flag(row.fits_10_exists),
    jpg_medium_exists: flag(row.jpg_medium_exists),
    jpg_small_exists: flag(row.jpg_small_exists),
    s3_directory: "data",
    username: row.username,
    user_id: row.user_id,
    fits_filename: text("ORIGNAME"),
    fits_path: header ? `${text("SITEID")}/${text("INSTRUME")}/${text("DAY-OBS")}/raw` : "",
    SMARTSTK: text("SMARTSTK"),
    SSTKNUM: text("SSTKNUM"),
    capture_date: row.capture_date?.getTime() ?? null,
    sort_date: row.sort_date?.getTime() ?? null,
    jpg_url,
    jpg_thumbnail_url,
  };
}

export const toImagePackages = (ctx: LinkContext, rows: ImageRow[]): Promise<ImagePackage[]> =>
  Promise.all(rows.map((row) => toImagePackage(ctx, row)));

const isDigits = (text: string): boolean => /^\d+$/.test(text);

/**
 * Smart stacks collapsed, as the frontend expects: a smart stack (SMARTSTK all digits) uploads a package per stacking
 * step (SSTKNUM 1, 2, …); only the packages of each stack's highest step are kept. Everything else is kept as is.
 */
export function collapseSmartStacks(packages: ImagePackage[]): ImagePackage[] {
  const highestStep = new Map<string, number>();
  for (const { SMARTSTK, SSTKNUM } of packages) {
    if (!isDigits(SSTKNUM) || SMARTSTK === "" || SMARTSTK === "no") continue;
    highestStep.set(SMARTSTK, Math.max(highestStep.get(SMARTSTK) ?? 0, Number(SSTKNUM)));
  }
  return packages.filter(
    ({ SMARTSTK, SSTKNUM }) =>
      !isDigits(SMARTSTK) || (isDigits(SSTKNUM) ? Number(SSTKNUM) : 0) >= (highestStep.get(SMARTSTK) ?? 0),
  );
}

/**
 * GET /infoimage: the channel's item as stored, with the flags, the directory and a link per file it has — the old
 * read API's package (photonranch-api api/info_images.py), read from the same attributes.
 */
export interface InfoImagePackage extends Record<string, unknown> {
  site: string;
  channel: InfoChannel;
  base_filename: string;
  s3_directory: "info-images";
  fits_01_exists: boolean;
  fits_10_exists: boolean;
  jpg_medium_exists: boolean;
  jpg_small_exists: boolean;
  jpg_url?: string;
  jpg_small_url?: string;
  fits_01_url?: string;
  fits_10_url?: string;
}

/** A site's info channel; undefined when the channel shows nothing (never used, or expired). */
export async function infoImagePackage(
  ctx: Pick<AwsContext, "dynamo" | "tables" | "log" | "clock"> & LinkContext,
  site: string,
  channel: InfoChannel,
): Promise<InfoImagePackage | undefined> {
  const image = await infoImage(ctx, site, channel, ctx.clock());
  if (!image) return undefined;
  const links = await Promise.all(
    INFO_IMAGE_LINKS.map(async ({ flag, path, url }): Promise<[string, string][]> => {
      const key = image[path];
      if (image[flag] !== true || typeof key !== "string" || key === "") return [];
      return [[url, await presignDownload(ctx, key, "image")]];
    }),
  );
  return {
    ...image,
    site,
    channel,
    base_filename: image.base_filename,
    s3_directory: "info-images",
    fits_01_exists: image.fits_01_exists ?? false,
    fits_10_exists: image.fits_10_exists ?? false,
    jpg_medium_exists: image.jpg_medium_exists ?? false,
    jpg_small_exists: image.jpg_small_exists ?? false,
    ...Object.fromEntries(links.flat()),
  };
}

/** The stored FITS header as a JSON object ({} when the row has none yet); the caller checks the row exists. */
export function fitsHeaderObject(baseFilename: string, text: string | null): Record<string, unknown> {
  parseBaseFilename(baseFilename);
  if (text === null || text === "") return {};
  const header = storedHeader(text);
  // The column is only written from parsed headers, so a header that is not an object is a fault of ours.
  if (!header) throw new ArchiveError(`the stored header of ${baseFilename} is not a JSON object`, "stored_header_invalid", false, 500);
  return header;
}
