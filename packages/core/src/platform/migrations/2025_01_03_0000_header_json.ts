import { sql, type Kysely } from "kysely";
import { OnlineRun, columnType, triggerCondition } from "./online";

/**
 * Every header keyword queryable: `header` stays the JSON string the frontend reads, and a jsonb copy with a GIN
 * index answers containment and jsonpath queries (`header_json @@ '$.FILTER == "ha" && $.EXPTIME > 60'`).
 * The copy is kept by a trigger on writes of `header` rather than a generated column, because Postgres recomputes
 * (and re-TOASTs) stored generated columns on every update, which halved the rate of file events on headered rows.
 *
 * Online (see ./online.ts): the column is added without a default (catalogue only), the triggers before the backfill
 * (so every write from then on keeps its copy), the backfill in batches, and the GIN index concurrently after it.
 */
export async function up(db: Kysely<any>, run = new OnlineRun()): Promise<void> {
  // A legacy header that is not JSON must neither fail this migration nor later writes: its jsonb copy is null. Not
  // PARALLEL SAFE: its exception block starts a subtransaction, which a parallel worker refuses.
  await sql`
    CREATE OR REPLACE FUNCTION archive_header_jsonb(header text) RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE PARALLEL RESTRICTED AS $$
    BEGIN
      RETURN header::jsonb;
    EXCEPTION WHEN invalid_text_representation THEN
      RETURN NULL;
    END
    $$
  `.execute(db);

  await sql`
    CREATE OR REPLACE FUNCTION images_copy_header_json() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      NEW.header_json := archive_header_jsonb(NEW.header);
      RETURN NEW;
    END
    $$
  `.execute(db);

  if (!(await columnType(db, "header_json"))) {
    await run.alterTable(db, "add header_json", [sql`ALTER TABLE images ADD COLUMN header_json jsonb`]);
  }

  // CREATE TRIGGER takes SHARE ROW EXCLUSIVE: readers go on, writers wait at most the lock timeout.
  const triggers = [
    ...((await triggerCondition(db, "images_header_json_insert")) !== undefined
      ? []
      : [
          sql`
            CREATE TRIGGER images_header_json_insert BEFORE INSERT ON images
            FOR EACH ROW EXECUTE FUNCTION images_copy_header_json()
          `,
        ]),
    // A repeated header (same text) keeps its copy: no re-parse, no new TOAST value.
    ...((await triggerCondition(db, "images_header_json_update")) !== undefined
      ? []
      : [
          sql`
            CREATE TRIGGER images_header_json_update BEFORE UPDATE OF header ON images
            FOR EACH ROW WHEN (OLD.header IS DISTINCT FROM NEW.header) EXECUTE FUNCTION images_copy_header_json()
          `,
        ]),
  ];
  if (triggers.length > 0) await run.alterTable(db, "create the header_json triggers", triggers, "writers");

  // Rows written since the triggers exist have their copy already; the update names no `header`, so fires none.
  await run.inBatches(db, "2025_01_03_0000_header_json", async (trx, { after, upTo }) => {
    await sql`
      UPDATE images SET header_json = archive_header_jsonb(header)
      WHERE image_id > ${after} AND image_id <= ${upTo} AND header IS NOT NULL AND header_json IS NULL
    `.execute(trx);
  });

  await run.createIndexConcurrently(db, "images_header_json_idx", sql`ON images USING gin (header_json jsonb_path_ops)`, {
    maintenanceWorkMem: "128MB",
  });
}
