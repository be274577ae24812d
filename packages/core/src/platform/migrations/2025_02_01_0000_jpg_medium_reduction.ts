import { sql, type Kysely } from "kysely";
import { OnlineRun, columnType } from "./online";

/**
 * Which medium jpg an exposure has: sites name it reduction 10, some 13, and the read API must link the one that
 * exists. A nullable column without a default is a catalogue-only change (no table rewrite); rows written before it,
 * or by the replaced service, read as null, which means the usual 10.
 */
export async function up(db: Kysely<any>, run = new OnlineRun()): Promise<void> {
  if (await columnType(db, "jpg_medium_reduction")) return;
  await run.alterTable(db, "add jpg_medium_reduction", [sql`ALTER TABLE images ADD COLUMN jpg_medium_reduction text`]);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE images DROP COLUMN IF EXISTS jpg_medium_reduction`.execute(db);
}
