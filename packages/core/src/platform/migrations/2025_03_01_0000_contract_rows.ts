import { sql, type Kysely, type Transaction } from "kysely";
import { OnlineRun, serverVersion, triggerCondition, type BatchRange } from "./online";

/**
 * Rows as the contract with the old read API says (CONTRACTS.md, "The images table"), for the rows this archive has
 * already written, and header_json kept by its writers.
 *
 * 1. Until now this archive wrote right_ascension in hours and `header` as typed JSON (JSON.stringify: no blank after
 *    ':', numbers and logicals unquoted, COMMENT/HISTORY lists). The old service writes `header` with Python's
 *    json.dumps (": " after every key) of strings only (from a .txt) or, from a FITS file, typed values; it wrote
 *    right_ascension in hours before 2023-03-08 09:20 UTC and in degrees since, which the frontend knows, so its rows
 *    are left alone. A row is this archive's old form when its `header` is compact JSON (`{"KEY":` then no blank)
 *    holding a value that is not a string: its right_ascension becomes degrees (× 15), its typed header moves to
 *    header_json, and `header` becomes strings (a number as its JSON text, a logical T/F, null "", COMMENT and HISTORY
 *    their last line read as the old service reads a card, "END": ""). The new `header` is all strings in jsonb's
 *    text form, which no longer matches, so running this again changes nothing.
 * 2. capture_date and sort_date are never NULL: a row without them (a file before its header) gets the other one, else
 *    the night in its name (the arrival time is not known any more).
 * 3. header_json is derived from `header` only where a writer did not set it: on an insert that leaves it NULL, and on
 *    an update that changes `header`, leaves header_json as it was, and finds it the copy of the previous header (the
 *    old service writes `header` only). So a typed header_json this archive wrote is never replaced by a copy of
 *    strings: not when this archive writes the same typed header in other text (the upload request's JSON, then the
 *    .txt), nor when the old service rewrites the header of the same file during the cut-over.
 *
 * Online (see ./online.ts): the trigger function is replaced in place and the insert trigger by CREATE OR REPLACE
 * TRIGGER (SHARE ROW EXCLUSIVE: readers go on; before Postgres 14, dropped and created in one transaction), so the
 * old service's writes keep their copies throughout; then the rows are converted and dated in batches of image ids.
 */
export async function up(db: Kysely<any>, run = new OnlineRun()): Promise<void> {
  await sql`
    CREATE OR REPLACE FUNCTION images_copy_header_json() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'INSERT' THEN
        NEW.header_json := archive_header_jsonb(NEW.header);
      ELSIF NEW.header_json IS NOT DISTINCT FROM OLD.header_json
        AND OLD.header_json IS NOT DISTINCT FROM archive_header_jsonb(OLD.header) THEN
        NEW.header_json := archive_header_jsonb(NEW.header);
      END IF;
      RETURN NEW;
    END
    $$
  `.execute(db);
  if ((await triggerCondition(db, "images_header_json_insert")) === null) {
    const insertTrigger = sql`
      TRIGGER images_header_json_insert BEFORE INSERT ON images
      FOR EACH ROW WHEN (NEW.header_json IS NULL AND NEW.header IS NOT NULL) EXECUTE FUNCTION images_copy_header_json()
    `;
    if ((await serverVersion(db)) >= 140000) {
      await run.alterTable(db, "replace the header_json insert trigger", [sql`CREATE OR REPLACE ${insertTrigger}`], "writers");
    } else {
      await run.alterTable(db, "replace the header_json insert trigger", [
        sql`DROP TRIGGER images_header_json_insert ON images`,
        sql`CREATE ${insertTrigger}`,
      ]);
    }
  }

  await run.inBatches(db, "2025_03_01_0000_contract_rows", async (trx, range) => {
    await convertOurRows(trx, range);
    await dateUndatedRows(trx, range);
  });
}

/**
 * 1. `header` is rewritten first (the update trigger then copies its strings into header_json), and the typed copy is
 * put back after by an update that names no `header`, so no trigger replaces it. Typed values travel as jsonb text.
 */
async function convertOurRows(trx: Transaction<any>, { after, upTo }: BatchRange): Promise<void> {
  const converted = await sql<{ image_id: number; typed: string }>`
    WITH ours AS (
      SELECT image_id, header AS original, archive_header_jsonb(header) AS typed
      FROM images
      WHERE image_id > ${after} AND image_id <= ${upTo}
        AND header ~ '^[{]"[^"]*":[^ ]' AND jsonb_typeof(archive_header_jsonb(header)) = 'object'
    ),
    converted AS (
      SELECT ours.image_id, ours.original, ours.typed, jsonb_object_agg(entry.key, CASE jsonb_typeof(entry.value)
          WHEN 'string' THEN btrim(entry.value #>> '{}')
          WHEN 'number' THEN entry.value::text
          WHEN 'boolean' THEN CASE WHEN entry.value = 'true'::jsonb THEN 'T' ELSE 'F' END
          WHEN 'null' THEN ''
          -- a COMMENT / HISTORY list: its last line, read from columns 11-79 of its card as the old service reads one
          WHEN 'array' THEN (
            SELECT CASE WHEN position('''' IN split_part(card.field, '/', 1)) > 0
              THEN btrim(split_part(card.field, '''', 2))
              ELSE btrim(split_part(card.field, '/', 1)) END
            FROM (SELECT substr(rpad(rpad(entry.key, 8) || coalesce(entry.value ->> -1, ''), 80), 11, 69) AS field) AS card
          )
          ELSE entry.value::text
        END) || '{"END": ""}'::jsonb AS written
      FROM ours CROSS JOIN LATERAL jsonb_each(ours.typed) AS entry
      GROUP BY ours.image_id, ours.original, ours.typed
      HAVING bool_or(jsonb_typeof(entry.value) <> 'string')
    )
    UPDATE images SET
      right_ascension = images.right_ascension * 15,
      header = converted.written::text
    FROM converted
    WHERE images.image_id = converted.image_id AND images.header = converted.original
    RETURNING images.image_id, converted.typed::text AS typed
  `.execute(trx);
  if (converted.rows.length === 0) return;
  await sql`
    UPDATE images SET header_json = typed.header_json::jsonb
    FROM unnest(${converted.rows.map((row) => row.image_id)}::int[], ${converted.rows.map((row) => row.typed)}::text[])
      AS typed(image_id, header_json)
    WHERE images.image_id = typed.image_id
  `.execute(trx);
}

/** 2. The night in the name (YYYYMMDD) when it is a calendar date; a name without one sorts last. */
async function dateUndatedRows(trx: Transaction<any>, { after, upTo }: BatchRange): Promise<void> {
  await sql`
    UPDATE images SET
      capture_date = coalesce(images.capture_date, images.sort_date, named.night),
      sort_date = coalesce(images.sort_date, images.capture_date, named.night)
    FROM (
      SELECT image_id, split_part(base_filename, '-', 3) AS digits
      FROM images
      WHERE image_id > ${after} AND image_id <= ${upTo} AND (capture_date IS NULL OR sort_date IS NULL)
    ) AS undated
    CROSS JOIN LATERAL (
      SELECT CASE WHEN undated.digits ~ '^[1-9][0-9]{3}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])$'
        THEN (make_date(substr(undated.digits, 1, 4)::int, substr(undated.digits, 5, 2)::int, 1)
              + (substr(undated.digits, 7, 2)::int - 1))::timestamp
        ELSE timestamp '1970-01-01'
      END AS night
    ) AS named
    WHERE images.image_id = undated.image_id
  `.execute(trx);
}

/** Puts back 2025_01_03's trigger (header_json always the copy of `header`); converted rows stay in degrees. */
export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TRIGGER IF EXISTS images_header_json_insert ON images`.execute(db);
  await sql`DROP TRIGGER IF EXISTS images_header_json_update ON images`.execute(db);
  await sql`
    CREATE OR REPLACE FUNCTION images_copy_header_json() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      NEW.header_json := archive_header_jsonb(NEW.header);
      RETURN NEW;
    END
    $$
  `.execute(db);
  await sql`
    CREATE TRIGGER images_header_json_insert BEFORE INSERT ON images
    FOR EACH ROW EXECUTE FUNCTION images_copy_header_json()
  `.execute(db);
  await sql`
    CREATE TRIGGER images_header_json_update BEFORE UPDATE OF header ON images
    FOR EACH ROW WHEN (OLD.header IS DISTINCT FROM NEW.header) EXECUTE FUNCTION images_copy_header_json()
  `.execute(db);
}
