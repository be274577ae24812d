import { sql, type Kysely } from "kysely";

/**
 * Every header keyword queryable: `header` stays the JSON string the frontend reads, and a generated jsonb copy with
 * a GIN index answers containment and jsonpath queries (`header_json @@ '$.FILTER == "ha" && $.EXPTIME > 60'`).
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
    ALTER TABLE images
      ADD COLUMN IF NOT EXISTS header_json jsonb GENERATED ALWAYS AS (archive_header_jsonb(header)) STORED
  `.execute(db);

  await sql`
    CREATE INDEX IF NOT EXISTS images_header_json_idx ON images USING gin (header_json jsonb_path_ops)
  `.execute(db);
}
