import { sql, type Kysely } from "kysely";
import { OnlineRun, columnType, constraintState, indexState } from "./online";

/**
 * One row per base filename. The old check-then-insert code could leave duplicates, so they are merged first: the
 * lowest image_id is kept, file flags are OR'ed, and the header (with the fields derived from it) comes from the kept
 * row when it has one, else from the lowest-numbered row that has one. Then the unique constraint and the
 * "latest images of a site" index are added. Names and sites are widened so every name the parser accepts fits.
 *
 * Online (see ./online.ts): the indexes the old read API's lookups can use are built before any statement that needs
 * the table's exclusive lock, so those statements find the short gaps between readers; the unique index is built
 * concurrently and attached as the constraint; NOT NULL comes from a CHECK added NOT VALID and validated without
 * blocking (Postgres ≥ 12 then skips SET NOT NULL's scan). varchar → text rewrites neither the table nor its indexes.
 */

const UNIQUE_INDEX = "images_base_filename_key";
const NOT_NULL_CHECK = "images_base_filename_not_null";
/** A duplicate the old service inserts during the unique build fails it; the build is retried after merging again. */
const UNIQUE_BUILD_ATTEMPTS = 5;
const UNIQUE_VIOLATION = "23505";
/** Scans for duplicates before giving up: each finds only those inserted since the previous one. */
const MERGE_SCANS = 10;
/** Duplicate names merged per transaction. */
const GROUPS_PER_BATCH = 500;

export async function up(db: Kysely<any>, run = new OnlineRun()): Promise<void> {
  const notNull = await columnNotNull(db, "base_filename");
  // Refuse before changing anything: a row without a name can be neither merged nor kept under NOT NULL.
  const unnamed = notNull ? [] : (await sql`SELECT image_id FROM images WHERE base_filename IS NULL LIMIT 1`.execute(db)).rows;
  if (unnamed.length > 0) throw new Error("images has rows without a base_filename; name or delete them first");

  // Only a table created by 2025_01_01 lacks it (production's has it); the merge below copies it.
  if (!(await columnType(db, "exposure_time"))) {
    await run.alterTable(db, "add exposure_time", [sql`ALTER TABLE images ADD COLUMN exposure_time double precision`]);
  }

  await buildUniqueIndex(db, run);
  await run.createIndexConcurrently(
    db,
    "images_site_sort_date_idx",
    sql`ON images (site, sort_date DESC NULLS LAST, image_id DESC)`,
  );
  // The old read API's night view and zip download read by site and capture date (2025_03_02 names it too).
  await run.createIndexConcurrently(db, "images_site_capture_date_idx", sql`ON images (site, capture_date)`);

  // Three short exclusive locks: widen and add the check unvalidated; NOT NULL (proven by the validated check, so no
  // scan) with the unique constraint; the check dropped last, on its own (dropped with SET NOT NULL, it forces the scan).
  const first = [
    ...((await columnType(db, "base_filename")) === "text" ? [] : [sql`ALTER COLUMN base_filename TYPE text`]),
    ...((await columnType(db, "site")) === "text" ? [] : [sql`ALTER COLUMN site TYPE text`]),
    ...(notNull || (await constraintState(db, NOT_NULL_CHECK)) !== "missing"
      ? []
      : [sql`ADD CONSTRAINT ${sql.id(NOT_NULL_CHECK)} CHECK (base_filename IS NOT NULL) NOT VALID`]),
  ];
  if (first.length > 0) await run.alterTable(db, "widen names and sites", [sql`ALTER TABLE images ${sql.join(first)}`]);
  // A scan under SHARE UPDATE EXCLUSIVE: reads and writes go on.
  if (!notNull && (await constraintState(db, NOT_NULL_CHECK)) === "not valid") {
    const validate = sql`ALTER TABLE images VALIDATE CONSTRAINT ${sql.id(NOT_NULL_CHECK)}`;
    await run.alterTable(db, "validate the check", [validate], "nobody");
  }
  const second = [
    ...(notNull ? [] : [sql`ALTER COLUMN base_filename SET NOT NULL`]),
    ...((await constraintState(db, UNIQUE_INDEX)) === "valid"
      ? []
      : [sql`ADD CONSTRAINT ${sql.id(UNIQUE_INDEX)} UNIQUE USING INDEX ${sql.id(UNIQUE_INDEX)}`]),
  ];
  if (second.length > 0) await run.alterTable(db, "attach the unique index", [sql`ALTER TABLE images ${sql.join(second)}`]);
  if ((await constraintState(db, NOT_NULL_CHECK)) !== "missing") {
    await run.alterTable(db, "drop the check", [sql`ALTER TABLE images DROP CONSTRAINT ${sql.id(NOT_NULL_CHECK)}`]);
  }
}

/** Merges duplicates, then builds the unique index; a duplicate that arrives meanwhile is merged and the build retried. */
async function buildUniqueIndex(db: Kysely<any>, run: OnlineRun): Promise<void> {
  for (let attempt = 1; (await indexState(db, UNIQUE_INDEX)) !== "valid"; attempt += 1) {
    await mergeDuplicates(db, run);
    try {
      await run.createIndexConcurrently(db, UNIQUE_INDEX, sql`ON images (base_filename)`, { unique: true });
    } catch (error) {
      const duplicate = error instanceof Error && "code" in error && error.code === UNIQUE_VIOLATION;
      if (!duplicate || attempt >= UNIQUE_BUILD_ATTEMPTS) throw error;
      run.options.log?.info("a duplicate arrived during the unique index build; merging again", { attempt });
      await run.dropIndexConcurrently(db, UNIQUE_INDEX);
    }
  }
}

async function columnNotNull(db: Kysely<any>, column: string): Promise<boolean> {
  const found = await sql<{ notnull: boolean }>`
    SELECT attnotnull AS notnull FROM pg_attribute WHERE attrelid = 'images'::regclass AND attname = ${column}
  `.execute(db);
  return found.rows[0]?.notnull ?? false;
}

/**
 * Every base filename with more than one row, found by one scan (reads only), merged in batches of names: each batch
 * locks its rows first, so the merge reads them as they are and no concurrent write to them is lost, then updates the
 * kept row and deletes the others in one statement. Rows inserted after the scan are found by the next scan.
 */
async function mergeDuplicates(db: Kysely<any>, run: OnlineRun): Promise<void> {
  for (let scan = 1; ; scan += 1) {
    const found = await sql<{ ids: number[] }>`
      SELECT array_agg(image_id ORDER BY image_id) AS ids
      FROM images
      WHERE base_filename IS NOT NULL
      GROUP BY base_filename
      HAVING count(*) > 1
    `.execute(db);
    if (found.rows.length === 0) return;
    if (scan > MERGE_SCANS) throw new Error(`duplicates keep arriving: ${found.rows.length} names after ${MERGE_SCANS} merges`);
    run.options.log?.info("merging duplicate base filenames", { names: found.rows.length });
    for (let start = 0; start < found.rows.length; start += GROUPS_PER_BATCH) {
      const ids = found.rows.slice(start, start + GROUPS_PER_BATCH).flatMap((group) => group.ids);
      await run.withLockTimeout(db, "merge duplicates", [
        sql`SELECT image_id FROM images WHERE image_id = ANY(${ids}::int[]) ORDER BY image_id FOR UPDATE`,
        mergeStatement(ids),
      ]);
    }
  }
}

function mergeStatement(ids: readonly number[]) {
  return sql`
    WITH grouped AS (
      SELECT * FROM images WHERE image_id = ANY(${ids}::int[])
    ),
    duplicated AS (
      SELECT base_filename,
        min(image_id) AS kept_id,
        coalesce(bool_or(fits_01_exists), false) AS fits_01_exists,
        coalesce(bool_or(fits_10_exists), false) AS fits_10_exists,
        coalesce(bool_or(jpg_medium_exists), false) AS jpg_medium_exists,
        coalesce(bool_or(jpg_small_exists), false) AS jpg_small_exists
      FROM grouped
      GROUP BY base_filename
      HAVING count(*) > 1
    ),
    header_source AS (
      SELECT DISTINCT ON (g.base_filename) g.*
      FROM grouped g JOIN duplicated d ON d.base_filename = g.base_filename
      ORDER BY g.base_filename, g.header IS NULL, g.image_id
    ),
    kept AS (
      UPDATE images AS kept SET
        fits_01_exists = d.fits_01_exists,
        fits_10_exists = d.fits_10_exists,
        jpg_medium_exists = d.jpg_medium_exists,
        jpg_small_exists = d.jpg_small_exists,
        site = coalesce(kept.site, h.site),
        data_type = coalesce(kept.data_type, h.data_type),
        header = h.header,
        capture_date = h.capture_date,
        sort_date = h.sort_date,
        right_ascension = h.right_ascension,
        declination = h.declination,
        altitude = h.altitude,
        azimuth = h.azimuth,
        filter_used = h.filter_used,
        airmass = h.airmass,
        exposure_time = h.exposure_time,
        user_id = h.user_id,
        username = h.username
      FROM duplicated d JOIN header_source h ON h.base_filename = d.base_filename
      WHERE kept.image_id = d.kept_id
    )
    DELETE FROM images AS extra
    USING duplicated d
    WHERE extra.image_id = ANY(${ids}::int[]) AND extra.base_filename = d.base_filename AND extra.image_id > d.kept_id
  `;
}
