import {
  CompiledQuery,
  DummyDriver,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  sql,
} from "kysely";
import pg from "pg";
import { imageColumns, type Database, type ImageRow } from "./db";
import { InvalidInputError } from "./errors";
import { fileFlagColumn, type ArchiveFileName, type FileFlagColumn } from "./fileName";
import type { ImageHeaderFields } from "./imageRecord";
import { logger } from "./logger";

/**
 * The `images` table: one row per base filename. Every write is one INSERT … ON CONFLICT statement, so events for an
 * exposure may arrive in any order, any number of times, from any number of connections, and end in the same row:
 * a header never clears a file flag, a file never erases header fields, and site and data_type come from the name.
 */

// Building and compiling a write costs ~70 µs, a large share of one event; the writes are compiled once, with a
// compile-only Kysely, and run with each event's parameters in the order their values objects list them.
const compiler = new Kysely<Database>({
  dialect: {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (db) => new PostgresIntrospector(db),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  },
});

type Identity = Pick<ArchiveFileName, "baseFilename" | "site" | "dataType">;

function identityValues(file: Identity) {
  return { base_filename: file.baseFilename, site: file.site, data_type: file.dataType };
}

function headerValues(file: Identity, fields: ImageHeaderFields) {
  return {
    ...identityValues(file),
    capture_date: fields.capture_date,
    sort_date: fields.sort_date,
    right_ascension: fields.right_ascension,
    declination: fields.declination,
    altitude: fields.altitude,
    azimuth: fields.azimuth,
    header: fields.header,
    filter_used: fields.filter_used,
    airmass: fields.airmass,
    exposure_time: fields.exposure_time,
    user_id: fields.user_id,
    username: fields.username,
  };
}

const sampleFile: Identity = { baseFilename: "", site: "", dataType: "" };
const sampleFields: ImageHeaderFields = {
  right_ascension: null,
  declination: null,
  altitude: null,
  azimuth: null,
  filter_used: null,
  airmass: null,
  exposure_time: null,
  user_id: null,
  username: null,
  capture_date: null,
  sort_date: null,
  header: "",
};

const upsertHeader = compiler
  .insertInto("images")
  .values(headerValues(sampleFile, sampleFields))
  .onConflict((conflict) =>
    conflict.column("base_filename").doUpdateSet((eb) => ({
      site: eb.fn.coalesce("images.site", "excluded.site"),
      data_type: eb.fn.coalesce("images.data_type", "excluded.data_type"),
      capture_date: eb.ref("excluded.capture_date"),
      sort_date: eb.ref("excluded.sort_date"),
      right_ascension: eb.ref("excluded.right_ascension"),
      declination: eb.ref("excluded.declination"),
      altitude: eb.ref("excluded.altitude"),
      azimuth: eb.ref("excluded.azimuth"),
      header: eb.ref("excluded.header"),
      filter_used: eb.ref("excluded.filter_used"),
      airmass: eb.ref("excluded.airmass"),
      exposure_time: eb.ref("excluded.exposure_time"),
      user_id: eb.ref("excluded.user_id"),
      username: eb.ref("excluded.username"),
    })),
  )
  .compile().sql;

const ensureRow = compiler
  .insertInto("images")
  .values(identityValues(sampleFile))
  .onConflict((conflict) => conflict.column("base_filename").doNothing())
  .compile().sql;

function upsertFlagStatement(flag: FileFlagColumn): string {
  return compiler
    .insertInto("images")
    .values({ ...identityValues(sampleFile), [flag]: true })
    .onConflict((conflict) =>
      conflict.column("base_filename").doUpdateSet((eb) => ({
        site: eb.fn.coalesce("images.site", "excluded.site"),
        data_type: eb.fn.coalesce("images.data_type", "excluded.data_type"),
        [flag]: sql<boolean>`true`,
      })),
    )
    .compile().sql;
}

const upsertFlag: Readonly<Record<FileFlagColumn, string>> = {
  fits_01_exists: upsertFlagStatement("fits_01_exists"),
  fits_10_exists: upsertFlagStatement("fits_10_exists"),
  jpg_medium_exists: upsertFlagStatement("jpg_medium_exists"),
  jpg_small_exists: upsertFlagStatement("jpg_small_exists"),
};

/** Stores a header's fields, overwriting earlier header fields; file flags are left as they are. */
export async function recordHeader(db: Kysely<Database>, file: ArchiveFileName, fields: ImageHeaderFields): Promise<void> {
  await db.executeQuery(CompiledQuery.raw(upsertHeader, Object.values(headerValues(file, fields))));
}

/** Records that a file of the exposure exists (its flag column set); a file that sets no flag only ensures the row. */
export async function recordFile(db: Kysely<Database>, file: ArchiveFileName): Promise<void> {
  const flag = fileFlagColumn(file);
  const statement = flag === null ? ensureRow : upsertFlag[flag];
  const parameters = flag === null ? Object.values(identityValues(file)) : [...Object.values(identityValues(file)), true];
  await db.executeQuery(CompiledQuery.raw(statement, parameters));
}

/** Deletes an exposure's row; true when there was one. */
export async function removeImage(db: Kysely<Database>, baseFilename: string): Promise<boolean> {
  const result = await db.deleteFrom("images").where("base_filename", "=", baseFilename).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/** Whether the exposure's header has been stored (from its txt or a fits file). */
export async function hasHeader(db: Kysely<Database>, baseFilename: string): Promise<boolean> {
  const row = await db
    .selectFrom("images")
    .select("image_id")
    .where("base_filename", "=", baseFilename)
    .where("header", "is not", null)
    .executeTakeFirst();
  return row !== undefined;
}

/** A site's newest exposures that have a medium jpg to show, newest sort_date first (undated ones last). */
export async function latestImages(db: Kysely<Database>, site: string, limit: number): Promise<ImageRow[]> {
  return db
    .selectFrom("images")
    .select(imageColumns)
    .where("site", "=", site)
    .where("jpg_medium_exists", "=", true)
    .orderBy(sql`sort_date DESC NULLS LAST`)
    .orderBy("image_id", "desc")
    .limit(limit)
    .execute();
}

export async function findImage(db: Kysely<Database>, baseFilename: string): Promise<ImageRow | undefined> {
  return db.selectFrom("images").select(imageColumns).where("base_filename", "=", baseFilename).executeTakeFirst();
}

/** The exposure's header as the JSON string it was stored as; undefined when there is no row or no header yet. */
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
 * Exposures whose header matches a jsonpath predicate, e.g. `$.FILTER == "ha" && $.EXPTIME > 60`, newest first;
 * answered from the GIN index on header_json. A predicate Postgres cannot parse is an InvalidInputError.
 */
export async function imagesMatchingHeader(
  db: Kysely<Database>,
  predicate: string,
  limit: number,
): Promise<ImageRow[]> {
  try {
    return await db
      .selectFrom("images")
      .select(imageColumns)
      .where(sql<boolean>`header_json @@ ${predicate}::jsonpath`)
      .orderBy(sql`sort_date DESC NULLS LAST`)
      .orderBy("image_id", "desc")
      .limit(limit)
      .execute();
  } catch (error) {
    if (error instanceof pg.DatabaseError && error.code !== undefined && INVALID_JSONPATH.has(error.code)) {
      logger.info("header query rejected", { predicate, error: error.message });
      throw new InvalidInputError(`not a header query: ${error.message}`, "query");
    }
    logger.error("header query failed", { predicate, error: error instanceof Error ? error.message : String(error) });
    throw error;
  }
}
