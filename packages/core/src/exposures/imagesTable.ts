import type { ColumnType, Generated, Insertable, Selectable } from "kysely";
import type { FileFlagColumn } from "../names/fileName";

/**
 * The `images` table, one row per exposure: the replaced system's columns (our contract with the frontend's API) plus
 * exposure_time and header_json. The column lists below are the one description of its columns: the store's SQL, the
 * read API's selects and the benchmarks are generated from them.
 */
export interface ImagesTable {
  image_id: Generated<number>;
  base_filename: string;
  site: string | null;
  data_type: string | null;
  capture_date: Date | null;
  sort_date: Date | null;
  right_ascension: number | null;
  declination: number | null;
  altitude: number | null;
  azimuth: number | null;
  /** The whole FITS header as a JSON string, as the frontend's readers expect it. */
  header: string | null;
  filter_used: string | null;
  airmass: number | null;
  exposure_time: number | null;
  user_id: string | null;
  username: string | null;
  fits_01_exists: Generated<boolean>;
  fits_10_exists: Generated<boolean>;
  jpg_medium_exists: Generated<boolean>;
  jpg_small_exists: Generated<boolean>;
  /** The medium jpg's reduction ("10" or "13"); null means "10" (rows of the replaced service, or none yet). */
  jpg_medium_reduction: string | null;
  /** `header` as jsonb, kept by a trigger, for keyword queries; never written. */
  header_json: ColumnType<JsonValue | null, never, never>;
}

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface Database {
  images: ImagesTable;
}

/** The columns a header sets (from a txt, a fits file's own header, or the header sent with an upload request). */
export interface ImageHeaderFields {
  right_ascension: number | null;
  declination: number | null;
  altitude: number | null;
  azimuth: number | null;
  filter_used: string | null;
  airmass: number | null;
  exposure_time: number | null;
  user_id: string | null;
  username: string | null;
  capture_date: Date | null;
  sort_date: Date | null;
  /** the whole header, JSON */
  header: string;
}
export type HeaderColumn = keyof ImageHeaderFields;

/** The columns the file name decides. */
export const IDENTITY_COLUMNS = ["base_filename", "site", "data_type"] as const;

export const HEADER_COLUMNS = [
  "capture_date",
  "sort_date",
  "right_ascension",
  "declination",
  "altitude",
  "azimuth",
  "header",
  "filter_used",
  "airmass",
  "exposure_time",
  "user_id",
  "username",
] as const satisfies readonly HeaderColumn[];

export const FILE_FLAG_COLUMNS = [
  "fits_01_exists",
  "fits_10_exists",
  "jpg_medium_exists",
  "jpg_small_exists",
] as const satisfies readonly FileFlagColumn[];

// Every header field is listed exactly once: adding a field without its column fails to compile here.
type Missing<All, Listed> = Exclude<All, Listed>;
const everyHeaderColumnListed: Missing<HeaderColumn, (typeof HEADER_COLUMNS)[number]> extends never ? true : false = true;
void everyHeaderColumnListed;

/** A row as the store returns it: every column except the jsonb copy of the header. */
export type ImageRow = Omit<Selectable<ImagesTable>, "header_json">;
export type NewImage = Insertable<ImagesTable>;
export type ImageColumn = keyof ImageRow;

export const IMAGE_COLUMNS: readonly ImageColumn[] = [
  "image_id",
  ...IDENTITY_COLUMNS,
  ...HEADER_COLUMNS,
  ...FILE_FLAG_COLUMNS,
  "jpg_medium_reduction",
];
