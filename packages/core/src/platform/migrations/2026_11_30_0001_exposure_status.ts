import { sql, type Kysely } from "kysely";

/**
 * Exposure status (issue 13): one row per exposure of what has arrived and when, beside `images` (never altered), and
 * the files a site is expected to send, per site and data type with `*` wildcards. Both are new tables, so nothing
 * here waits on a lock the replaced service holds; every step is idempotent, so a run cut short is run again.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE IF NOT EXISTS expected_files (
      site text NOT NULL,
      data_type text NOT NULL,
      files text[] NOT NULL,
      PRIMARY KEY (site, data_type)
    )
  `.execute(db);
  // The default every site gets until it has its own: the header, the medium jpg and the small FITS.
  await sql`
    INSERT INTO expected_files (site, data_type, files) VALUES ('*', '*', ARRAY['header', 'jpg_medium', 'fits_small'])
    ON CONFLICT (site, data_type) DO NOTHING
  `.execute(db);
  await sql`
    CREATE TABLE IF NOT EXISTS exposure_status (
      base_filename text PRIMARY KEY,
      site text NOT NULL,
      instrument text NOT NULL,
      data_type text,
      files text[] NOT NULL DEFAULT '{}',
      object_keys text[] NOT NULL DEFAULT '{}',
      expected text[] NOT NULL,
      first_seen_at timestamptz NOT NULL,
      announced_at timestamptz,
      receiving_at timestamptz,
      complete_at timestamptz,
      claim_until timestamptz,
      archived_at timestamptz
    )
  `.execute(db);
  // "Incomplete, per site, oldest first": only incomplete rows are indexed, so the index stays small.
  await sql`
    CREATE INDEX IF NOT EXISTS exposure_status_incomplete_idx ON exposure_status (site, first_seen_at)
    WHERE complete_at IS NULL
  `.execute(db);
  // Complete exposures whose archived event is not yet published: what a later run finishes.
  await sql`
    CREATE INDEX IF NOT EXISTS exposure_status_unarchived_idx ON exposure_status (complete_at)
    WHERE complete_at IS NOT NULL AND archived_at IS NULL
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE IF EXISTS exposure_status`.execute(db);
  await sql`DROP TABLE IF EXISTS expected_files`.execute(db);
}
