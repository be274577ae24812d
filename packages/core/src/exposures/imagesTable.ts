import { sql, type ColumnType, type Generated, type Insertable, type RawBuilder, type Selectable } from "kysely";
import type { FileFlagColumn } from "../names/fileName";
import type { ExpiryPoliciesTable, PinnedExposuresTable } from "../expirations/expiryTables";
import type { GeneratedPreviewsTable } from "../previews/generatedPreviewsTable";

/**
 * The `images` table, one row per exposure: the replaced system's columns (our contract with the frontend's API) plus
 * exposure_time and header_json. The column lists below are the one description of its columns: the store's SQL, the
 * read API's selects and the benchmarks are generated from them. The table is shared with the replaced service and read
 * by its API during the cut-over: the units and forms below are that contract (docs: CONTRACTS.md, "The images table").
 */
export interface ImagesTable {
  image_id: Generated<number>;
  base_filename: string;
  site: string | null;
  /** The type letters of the newest file seen (the last write wins). */
  data_type: string | null;
  /** DATE-OBS, else the earliest arrival among the exposure's files (or its upload request); never null in our rows. */
  capture_date: Date | null;
  sort_date: Date | null;
  /** Degrees (CRVAL1), as the frontend reads every row captured after 2023-03-08 09:20 UTC. */
  right_ascension: number | null;
  declination: number | null;
  altitude: number | null;
  azimuth: number | null;
  /** The whole FITS header as JSON text with every value a string as written in its card (the old read API's form). */
  header: string | null;
  filter_used: string | null;
  airmass: number | null;
  exposure_time: number | null;
  user_id: string | null;
  username: string | null;
  // Nullable in production (no default): this archive writes all four on every insert; the old service left them NULL.
  fits_01_exists: boolean | null;
  fits_10_exists: boolean | null;
  jpg_medium_exists: boolean | null;
  jpg_small_exists: boolean | null;
  /** The medium jpg's reduction ("10" or "13"); null means "10" (rows of the replaced service, or none yet). */
  jpg_medium_reduction: string | null;
  /**
   * The header typed (numbers, logicals, COMMENT/HISTORY lists) as jsonb, for keyword queries; written with `header` by
   * this archive (as JSON text), and derived from `header` by a trigger when a writer (the old service) leaves it unset.
   */
  header_json: ColumnType<JsonValue | null, string | null, string | null>;
}

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface Database {
  images: ImagesTable;
  expiry_policies: ExpiryPoliciesTable;
  pinned_exposures: PinnedExposuresTable;
  generated_previews: GeneratedPreviewsTable;
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
  /** DATE-OBS; null when the header has none (the row then keeps the date it has, or gets the arrival time) */
  capture_date: Date | null;
  sort_date: Date | null;
  /** the whole header, JSON text of the values as written (see headerAsWritten) */
  header: string;
  /** the whole header typed, JSON text; when omitted, the trigger derives it from `header` */
  header_json?: string;
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
  "header_json",
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

/** The columns a header sets that every read returns; the typed copy is only queried, never returned. */
export const RETURNED_HEADER_COLUMNS = HEADER_COLUMNS.filter(
  (column): column is Exclude<HeaderColumn, "header_json"> => column !== "header_json",
);

/**
 * A row as the store returns it: every column except the typed copy of the header; the file flags are true or false
 * (NULL, as the old service leaves the flags it does not set, reads as false).
 */
export type ImageRow = Omit<Selectable<ImagesTable>, "header_json" | FileFlagColumn> & Record<FileFlagColumn, boolean>;
export type NewImage = Insertable<ImagesTable>;
export type ImageColumn = keyof ImageRow;

export const IMAGE_COLUMNS: readonly ImageColumn[] = [
  "image_id",
  ...IDENTITY_COLUMNS,
  ...RETURNED_HEADER_COLUMNS,
  ...FILE_FLAG_COLUMNS,
  "jpg_medium_reduction",
];

const FLAGS: ReadonlySet<string> = new Set(FILE_FLAG_COLUMNS);

/** IMAGE_COLUMNS as a select list (`.select(IMAGE_SELECTION).$castTo<ImageRow>()`): a NULL flag reads as false. */
export const IMAGE_SELECTION = IMAGE_COLUMNS.map((column) =>
  FLAGS.has(column) ? sql<boolean>`coalesce(${sql.ref(column)}, false)`.as(column) : column,
);

/** The same select list for raw SQL, with the columns of `table` (an alias of images). */
export function imageColumnsSql(table = "images"): RawBuilder<unknown> {
  return sql.join(
    IMAGE_COLUMNS.map((column) =>
      FLAGS.has(column)
        ? sql`coalesce(${sql.ref(`${table}.${column}`)}, false) AS ${sql.ref(column)}`
        : sql.ref(`${table}.${column}`),
    ),
  );
}
