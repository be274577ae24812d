import { sql, type Kysely, type SelectQueryBuilder } from "kysely";
import pg from "pg";
import { InvalidInputError } from "../platform/errors";
import { IMAGE_SELECTION, imageColumnsSql, type Database, type ImageRow } from "./imagesTable";

/**
 * The read side of the `images` table, as the frontend's routes ask it. Every query that lists exposures keeps only
 * those with a medium jpg (what the frontend can show) and orders by the index `(site, sort_date DESC, image_id DESC)`.
 */
type ImageQuery = SelectQueryBuilder<Database, "images", ImageRow>;

/** Rows as every read returns them: IMAGE_COLUMNS, a NULL file flag (the old service's) read as false. */
export function selectImages(db: Kysely<Database>): ImageQuery {
  return db.selectFrom("images").select(IMAGE_SELECTION).$castTo<ImageRow>();
}

const withMediumJpg = (db: Kysely<Database>): ImageQuery => selectImages(db).where("jpg_medium_exists", "=", true);

const newestFirst = (query: ImageQuery): ImageQuery =>
  query.orderBy(sql`sort_date DESC NULLS LAST`).orderBy("image_id", "desc");

/** A site's newest exposures that have a medium jpg, optionally only one user's. */
export async function latestSiteImages(
  db: Kysely<Database>,
  site: string,
  limit: number,
  userId?: string,
): Promise<ImageRow[]> {
  let query = withMediumJpg(db).where("site", "=", site);
  if (userId !== undefined) query = query.where("user_id", "=", userId);
  return newestFirst(query).limit(limit).execute();
}

/** What GET /filtered_images may ask for; every given field must match. */
export interface ImageFilters {
  site?: string;
  filter?: string;
  username?: string;
  userId?: string;
  exposureTimeMin?: number;
  exposureTimeMax?: number;
  /** On capture_date, inclusive, UTC. */
  startDate?: Date;
  endDate?: Date;
  /** A SQL LIKE pattern on base_filename, as the replaced API took it. */
  filename?: string;
}

/** Exposures with a medium jpg matching every filter, newest first, at most `limit`. */
export async function filteredImages(db: Kysely<Database>, filters: ImageFilters, limit: number): Promise<ImageRow[]> {
  let query = withMediumJpg(db);
  if (filters.site !== undefined) query = query.where("site", "=", filters.site);
  if (filters.filter !== undefined) query = query.where("filter_used", "=", filters.filter);
  if (filters.username !== undefined) query = query.where("username", "=", filters.username);
  if (filters.userId !== undefined) query = query.where("user_id", "=", filters.userId);
  if (filters.exposureTimeMin !== undefined) query = query.where("exposure_time", ">=", filters.exposureTimeMin);
  if (filters.exposureTimeMax !== undefined) query = query.where("exposure_time", "<=", filters.exposureTimeMax);
  if (filters.startDate !== undefined) query = query.where("capture_date", ">=", filters.startDate);
  if (filters.endDate !== undefined) query = query.where("capture_date", "<=", filters.endDate);
  if (filters.filename !== undefined) query = query.where("base_filename", "like", filters.filename);
  return newestFirst(query).limit(limit).execute();
}

/**
 * The CTE `sites(site)`: every site of the table, one index probe per site (a loose index scan of the site indexes, not
 * a pass over every row), and a last row that is NULL. For `WITH RECURSIVE`.
 */
export const EVERY_SITE = sql`sites(site) AS (
  (SELECT site FROM images WHERE site IS NOT NULL ORDER BY site LIMIT 1)
  UNION ALL
  SELECT (SELECT i.site FROM images i WHERE i.site > sites.site ORDER BY i.site LIMIT 1)
  FROM sites WHERE sites.site IS NOT NULL
)`;

/**
 * Each site's newest exposure with a medium jpg. The sites are found with a loose index scan (one index probe per
 * site, not a pass over every row), then each site's newest row by the latest-images index.
 */
export async function latestImagePerSite(db: Kysely<Database>): Promise<ImageRow[]> {
  const result = await sql<ImageRow>`
    WITH RECURSIVE ${EVERY_SITE}
    SELECT newest.* FROM sites
    CROSS JOIN LATERAL (
      SELECT ${imageColumnsSql("images")}
      FROM images
      WHERE images.site = sites.site AND images.jpg_medium_exists = true
      ORDER BY images.sort_date DESC NULLS LAST, images.image_id DESC
      LIMIT 1
    ) AS newest
    WHERE sites.site IS NOT NULL
    ORDER BY newest.site
  `.execute(db);
  return result.rows;
}

export type FitsSize = "small" | "large" | "best";

/** A site's exposures captured in [start, end] that have the FITS file `size` asks for (best: large, else small). */
export async function exposuresWithFits(
  db: Kysely<Database>,
  site: string,
  start: Date,
  end: Date,
  size: FitsSize,
): Promise<ImageRow[]> {
  let query = selectImages(db)
    .where("site", "=", site)
    .where("capture_date", ">=", start)
    .where("capture_date", "<=", end);
  if (size === "small") query = query.where("fits_10_exists", "=", true);
  else if (size === "large") query = query.where("fits_01_exists", "=", true);
  else query = query.where((eb) => eb.or([eb("fits_01_exists", "=", true), eb("fits_10_exists", "=", true)]));
  return query.orderBy("capture_date").orderBy("image_id").execute();
}

export async function findImage(db: Kysely<Database>, baseFilename: string): Promise<ImageRow | undefined> {
  return selectImages(db).where("base_filename", "=", baseFilename).executeTakeFirst();
}

/**
 * The exposure's header as the JSON text stored (every value a string, as written in its card); undefined when there
 * is no row or no header yet.
 */
export async function findHeader(db: Kysely<Database>, baseFilename: string): Promise<string | undefined> {
  const row = await db
    .selectFrom("images")
    .select("header")
    .where("base_filename", "=", baseFilename)
    .executeTakeFirst();
  return row?.header ?? undefined;
}

const INVALID_JSONPATH = new Set(["42601", "22P02", "2203A", "22038"]);

/**
 * Exposures whose header matches a jsonpath predicate over the typed header, e.g. `$.FILTER == "ha" && $.EXPTIME > 60`,
 * newest first; answered from the GIN index on header_json. A predicate Postgres cannot parse is an InvalidInputError.
 */
export async function imagesMatchingHeader(
  db: Kysely<Database>,
  predicate: string,
  limit: number,
): Promise<ImageRow[]> {
  try {
    return await newestFirst(selectImages(db).where(sql<boolean>`header_json @@ ${predicate}::jsonpath`))
      .limit(limit)
      .execute();
  } catch (error) {
    if (error instanceof pg.DatabaseError && error.code !== undefined && INVALID_JSONPATH.has(error.code)) {
      throw new InvalidInputError(`not a header query: ${error.message}`, "query");
    }
    throw error;
  }
}
