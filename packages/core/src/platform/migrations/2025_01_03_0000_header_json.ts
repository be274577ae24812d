import { sql, type Kysely } from "kysely";

/**
 * Every header keyword queryable: `header` stays the JSON string the frontend reads, and a jsonb copy with a GIN
 * index answers containment and jsonpath queries (`header_json @@ '$.FILTER == "ha" && $.EXPTIME > 60'`).
 * The copy is kept by a trigger on writes of `header` rather than a generated column, because Postgres recomputes
 * (and re-TOASTs) stored generated columns on every update, which halved the rate of file events on headered rows.
 */
export async function up(db: Kysely<any>): Promise<void> {
  // A legacy header that is not JSON must neither fail this migration nor later writes: its jsonb copy is null.
  await sql`
    CREATE OR REPLACE FUNCTION archive_header_jsonb(header text) RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
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

  await sql`ALTER TABLE images ADD COLUMN IF NOT EXISTS header_json jsonb`.execute(db);
  await sql`UPDATE images SET header_json = archive_header_jsonb(header) WHERE header IS NOT NULL`.execute(db);

  await sql`
    CREATE TRIGGER images_header_json_insert BEFORE INSERT ON images
    FOR EACH ROW EXECUTE FUNCTION images_copy_header_json()
  `.execute(db);
  // A repeated header (same text) keeps its copy: no re-parse, no new TOAST value.
  await sql`
    CREATE TRIGGER images_header_json_update BEFORE UPDATE OF header ON images
    FOR EACH ROW WHEN (OLD.header IS DISTINCT FROM NEW.header) EXECUTE FUNCTION images_copy_header_json()
  `.execute(db);

  await sql`
    CREATE INDEX IF NOT EXISTS images_header_json_idx ON images USING gin (header_json jsonb_path_ops)
  `.execute(db);
}
