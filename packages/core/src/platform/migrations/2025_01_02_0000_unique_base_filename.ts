import { sql, type Kysely } from "kysely";

/**
 * One row per base filename. The old check-then-insert code could leave duplicates, so they are merged first: the
 * lowest image_id is kept, file flags are OR'ed, and the header (with the fields derived from it) comes from the kept
 * row when it has one, else from the lowest-numbered row that has one. Then the unique constraint and the
 * "latest images of a site" index are added. Names and sites are widened so every name the parser accepts fits.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE images
      ALTER COLUMN base_filename TYPE text,
      ALTER COLUMN site TYPE text,
      ADD COLUMN IF NOT EXISTS exposure_time double precision
  `.execute(db);

  await sql`
    WITH duplicated AS (
      SELECT base_filename,
        min(image_id) AS kept_id,
        coalesce(bool_or(fits_01_exists), false) AS fits_01_exists,
        coalesce(bool_or(fits_10_exists), false) AS fits_10_exists,
        coalesce(bool_or(jpg_medium_exists), false) AS jpg_medium_exists,
        coalesce(bool_or(jpg_small_exists), false) AS jpg_small_exists
      FROM images
      WHERE base_filename IS NOT NULL
      GROUP BY base_filename
      HAVING count(*) > 1
    ),
    header_source AS (
      SELECT DISTINCT ON (i.base_filename) i.*
      FROM images i JOIN duplicated d ON d.base_filename = i.base_filename
      ORDER BY i.base_filename, i.header IS NULL, i.image_id
    )
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
  `.execute(db);

  await sql`
    DELETE FROM images AS extra
    USING images AS kept
    WHERE extra.base_filename = kept.base_filename AND extra.image_id > kept.image_id
  `.execute(db);

  await sql`
    ALTER TABLE images
      ALTER COLUMN base_filename SET NOT NULL,
      ADD CONSTRAINT images_base_filename_key UNIQUE (base_filename)
  `.execute(db);

  await sql`
    CREATE INDEX IF NOT EXISTS images_site_sort_date_idx
    ON images (site, sort_date DESC NULLS LAST, image_id DESC)
  `.execute(db);
}
