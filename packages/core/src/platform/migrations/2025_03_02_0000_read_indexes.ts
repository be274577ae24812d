import { sql, type Kysely } from "kysely";
import { OnlineRun } from "./online";

/**
 * The frontend's night view (GET /filtered_images with a site and a capture-date range) and the zip download (a
 * site's exposures captured in a range) read by site and capture_date: this index keeps both index scans at any
 * table size. Latest images use images_site_sort_date_idx (2025_01_02). A database first migrated after both existed
 * got this index from 2025_01_02, before its exclusive locks; here it is built only where that one ran without it.
 */
export async function up(db: Kysely<any>, run = new OnlineRun()): Promise<void> {
  await run.createIndexConcurrently(db, "images_site_capture_date_idx", sql`ON images (site, capture_date)`);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX CONCURRENTLY IF EXISTS images_site_capture_date_idx`.execute(db);
}
