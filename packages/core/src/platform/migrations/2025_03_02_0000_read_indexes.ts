import { sql, type Kysely } from "kysely";

/**
 * The frontend's night view (GET /filtered_images with a site and a capture-date range) and the zip download (a
 * site's exposures captured in a range) read by site and capture_date: this index keeps both index scans at any
 * table size. Latest images use images_site_sort_date_idx (2025_01_02).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`CREATE INDEX IF NOT EXISTS images_site_capture_date_idx ON images (site, capture_date)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX IF EXISTS images_site_capture_date_idx`.execute(db);
}
