import { sql, type Kysely } from "kysely";

/**
 * The medium jpgs the archive made from an exposure's FITS image because none came from the site (previews/): one row
 * per exposure, so status and the dashboard can say "generated". A new table: no lock on `images`.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE IF NOT EXISTS generated_previews (
      base_filename text PRIMARY KEY,
      source_key text NOT NULL,
      jpg_key text NOT NULL,
      generated_at timestamptz NOT NULL DEFAULT now(),
      milliseconds integer NOT NULL
    )`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE IF EXISTS generated_previews`.execute(db);
}
