import { readFileSync } from "node:fs";
import { sql } from "kysely";
import { describe, expect, test } from "vitest";
import { parseHeaderText } from "@archive/core/fits/cards";
import { headerAsWritten, headerFromObject, headerToJson } from "@archive/core/fits/headerJson";
import {
  MigrationError,
  migrate,
  migrateTo,
  migrateToLatest,
  migrations,
  type MigrationOutcome,
} from "@archive/core/platform/migrate";
import * as contractRows from "@archive/core/platform/migrations/2025_03_01_0000_contract_rows";
import { useTestDatabase } from "../support/database";
import { createProductionImagesTable } from "../support/replacedService";

const database = useTestDatabase({ migrate: false });
const unmigratable = useTestDatabase({ migrate: false });
const shared = useTestDatabase({ migrate: false });
const resumed = useTestDatabase({ migrate: false });
const interrupted = useTestDatabase({ migrate: false });

// The old service's header column: Python's json.dumps of the card values as strings.
const headerA = '{"FILTER": "ha", "EXPTIME": "90"}';
const headerA2 = '{"FILTER": "ha", "EXPTIME": "91"}';
const headerB = '{"FILTER": "r", "EXPTIME": "10"}';
const headerB2 = '{"FILTER": "g", "EXPTIME": "11"}';

describe("migrating the production images table", () => {
  test("duplicate base filenames merge into the lowest image_id with unioned flags and a kept header", async () => {
    // Prepare: the legacy table, with duplicates as the old check-then-insert code left them
    await migrateTo(database.db, "2025_01_01_0000_legacy_images");
    const a = "sro-kb001ms-20220629-00000001";
    const b = "sro-kb001ms-20220629-00000002";
    const single = "sro-kb001ms-20220629-00000003";
    const notJson = "sro-kb001ms-20220629-00000004";
    const inserted = await database.db
      .insertInto("images")
      .values([
        { base_filename: a, site: "sro", data_type: "EX", jpg_medium_exists: true },
        {
          base_filename: a,
          site: "sro",
          data_type: "EX",
          fits_10_exists: true,
          header: headerA,
          filter_used: "ha",
          capture_date: new Date("2022-06-29T01:02:03Z"),
          sort_date: new Date("2022-06-29T01:02:03Z"),
          right_ascension: 1.5,
        },
        { base_filename: a, site: "sro", data_type: "EX", jpg_small_exists: true, header: headerA2, filter_used: "x" },
        { base_filename: b, site: "sro", data_type: "EX", header: headerB, filter_used: "r", airmass: 1.2 },
        { base_filename: b, site: "sro", data_type: "EX", fits_01_exists: true, header: headerB2, filter_used: "g" },
        { base_filename: single, site: "sro", data_type: "EX", jpg_medium_exists: true, header: headerB },
        { base_filename: notJson, site: "sro", data_type: "EX", header: "{not json" },
      ])
      .returning("image_id")
      .execute();
    const ids = inserted.map((row) => row.image_id);

    // Act
    const applied = await migrateToLatest(database.db);

    // Assess
    expect(applied).toEqual(Object.keys(migrations).filter((name) => name !== "2025_01_01_0000_legacy_images"));
    const rows = await database.db.selectFrom("images").selectAll().orderBy("image_id").execute();
    expect(rows).toHaveLength(4);
    expect(rows[0]).toMatchObject({
      image_id: ids[0],
      base_filename: a,
      header: headerA,
      filter_used: "ha",
      right_ascension: 1.5,
      capture_date: new Date("2022-06-29T01:02:03Z"),
      jpg_medium_exists: true,
      fits_10_exists: true,
      jpg_small_exists: true,
      fits_01_exists: false,
      header_json: { FILTER: "ha", EXPTIME: "90" },
    });
    expect(rows[1]).toMatchObject({
      image_id: ids[3],
      base_filename: b,
      header: headerB,
      filter_used: "r",
      airmass: 1.2,
      fits_01_exists: true,
    });
    expect(rows[2]).toMatchObject({ image_id: ids[5], base_filename: single, header: headerB, jpg_medium_exists: true });
    expect(rows[3]).toMatchObject({ image_id: ids[6], header: "{not json", header_json: null });
  });

  test("after migrating, base_filename is unique and the indexes exist", async () => {
    // Prepare
    await migrateToLatest(database.db);
    const base = "tst-kb001ms-20220629-00000010";
    await database.db.insertInto("images").values({ base_filename: base, site: "tst" }).execute();

    // Act
    const duplicate = database.db.insertInto("images").values({ base_filename: base, site: "tst" }).execute();

    // Assess
    await expect(duplicate).rejects.toMatchObject({ code: "23505" });
    const indexes = await sql<{ indexname: string }>`
      SELECT indexname FROM pg_indexes WHERE tablename = 'images' ORDER BY indexname
    `.execute(database.db);
    expect(indexes.rows.map((row) => row.indexname)).toEqual([
      "images_base_filename_key",
      "images_header_json_idx",
      "images_pkey",
      "images_site_capture_date_idx",
      "images_site_sort_date_idx",
    ]);
  });

  test("migrating an up-to-date database applies nothing", async () => {
    // Prepare
    await migrateToLatest(database.db);

    // Act
    const applied = await migrateToLatest(database.db);

    // Assess
    expect(applied).toEqual([]);
  });

  test("a failing migration names itself and leaves the table as it was", async () => {
    // Prepare: a legacy row without a base filename cannot satisfy the new NOT NULL
    await migrateTo(unmigratable.db, "2025_01_01_0000_legacy_images");
    await sql`INSERT INTO images (base_filename, site) VALUES (NULL, 'sro')`.execute(unmigratable.db);

    // Act
    const attempt = migrateToLatest(unmigratable.db);

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(MigrationError);
    await expect(attempt).rejects.toMatchObject({ migration: "2025_01_02_0000_unique_base_filename" });
    const columns = await sql<{ column_name: string }>`
      SELECT column_name FROM information_schema.columns WHERE table_name = 'images' AND column_name = 'exposure_time'
    `.execute(unmigratable.db);
    expect(columns.rows).toEqual([]);
  });
});

const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url));

interface LegacyRow {
  base_filename: string;
  header: string | null;
  right_ascension: number | null;
  capture_date?: Date | null;
}

async function insertLegacy(row: LegacyRow): Promise<void> {
  const date = row.capture_date === undefined ? new Date("2023-05-01T02:03:04Z") : row.capture_date;
  await sql`
    INSERT INTO images (base_filename, site, data_type, header, right_ascension, capture_date, sort_date)
    VALUES (${row.base_filename}, 'sro', 'EX', ${row.header}, ${row.right_ascension}, ${date}, ${date})
  `.execute(shared.db);
}

async function rowsByName(): Promise<Record<string, Record<string, unknown>>> {
  const rows = await shared.db.selectFrom("images").selectAll().orderBy("image_id").execute();
  return Object.fromEntries(rows.map((row) => [row.base_filename, row]));
}

describe("migrating to rows as the contract says (2025_03_01)", () => {
  const typedFixture = JSON.parse(headerToJson(parseHeaderText(fixture("header_108_cards.txt")))) as Record<string, unknown>;
  const rows = {
    // this archive before: typed JSON.stringify header, right ascension in hours
    oursFromCrval1: { base_filename: "sro-kb001ms-20230501-00000001", header: JSON.stringify(typedFixture), right_ascension: 201.165058 / 15 },
    oursFromRahrs: { base_filename: "sro-kb001ms-20230501-00000002", header: '{"SIMPLE":true,"RAHRS":5.5}', right_ascension: 5.5 },
    oursAllStrings: { base_filename: "sro-kb001ms-20230501-00000003", header: '{"FILTER":"r"}', right_ascension: null },
    // the old service: json.dumps of strings from a .txt (degrees since 2023-03-08, hours before), typed from a FITS file
    oldFromTxt: {
      base_filename: "sro-kb001ms-20230501-00000004",
      header: fixture("header_108_cards.ptr_data.json").toString("utf8"),
      right_ascension: 201.165058,
    },
    oldBefore2023: {
      base_filename: "sro-kb001ms-20220101-00000005",
      header: '{"SIMPLE": "T", "RAHRS": "5.5", "END": ""}',
      right_ascension: 5.5,
      capture_date: new Date("2022-01-01T03:00:00Z"),
    },
    oldFromFits: { base_filename: "sro-kb001ms-20230501-00000006", header: '{"SIMPLE": true, "CRVAL1": 150.0}', right_ascension: 150 },
    notJson: { base_filename: "sro-kb001ms-20230501-00000007", header: "{not json", right_ascension: 3 },
    // a jpg before its header, written by this archive before: no dates
    undated: { base_filename: "sro-kb001ms-20230502-00000008", header: null, right_ascension: null, capture_date: null },
    undatedBadName: { base_filename: "sro-kb001ms-20231302-00000009", header: null, right_ascension: null, capture_date: null },
  } satisfies Record<string, LegacyRow>;

  test("this archive's rows get degrees, string headers and their typed header_json; the old service's are left alone", async () => {
    // Prepare: production's table, migrated to the previous version, holding rows of both writers
    await createProductionImagesTable(shared.db);
    await migrateTo(shared.db, "2025_02_01_0000_jpg_medium_reduction");
    for (const row of Object.values(rows)) await insertLegacy(row);
    const before = await rowsByName();

    // Act
    const applied = await migrateToLatest(shared.db);

    // Assess
    expect(applied).toContain("2025_03_01_0000_contract_rows");
    const after = await rowsByName();
    const fromCrval1 = after[rows.oursFromCrval1.base_filename];
    expect(fromCrval1?.right_ascension).toBeCloseTo(201.165058, 9);
    expect(fromCrval1?.header_json).toEqual(typedFixture);
    // the same strings this archive now writes for a header it only has typed (the SQL and TypeScript rules agree)
    expect(JSON.parse(String(fromCrval1?.header))).toEqual(JSON.parse(headerAsWritten(headerFromObject(typedFixture))));
    expect(JSON.parse(String(fromCrval1?.header))).toMatchObject({ SIMPLE: "T", EXPTIME: "30", HISTORY: "at field applied from masterflat_Ha", END: "" });
    expect(after[rows.oursFromRahrs.base_filename]).toMatchObject({
      right_ascension: 82.5,
      header: '{"END": "", "RAHRS": "5.5", "SIMPLE": "T"}',
      header_json: { SIMPLE: true, RAHRS: 5.5 },
    });
    for (const untouched of [rows.oursAllStrings, rows.oldFromTxt, rows.oldBefore2023, rows.oldFromFits, rows.notJson]) {
      expect(after[untouched.base_filename]).toEqual(before[untouched.base_filename]);
    }
  });

  test("rows without dates get the night in their name, or the epoch when the name has none", async () => {
    // Prepare
    await migrateToLatest(shared.db);

    // Act
    const after = await rowsByName();

    // Assess
    expect(after[rows.undated.base_filename]).toMatchObject({
      capture_date: new Date("2023-05-02T00:00:00Z"),
      sort_date: new Date("2023-05-02T00:00:00Z"),
    });
    expect(after[rows.undatedBadName.base_filename]).toMatchObject({
      capture_date: new Date("1970-01-01T00:00:00Z"),
      sort_date: new Date("1970-01-01T00:00:00Z"),
    });
  });

  test("running the migration again over every row changes nothing", async () => {
    // Prepare: its batches recorded their progress; forgetting it makes the next run read every row again
    await migrateToLatest(shared.db);
    const once = await rowsByName();
    await sql`DELETE FROM archive_migration_progress WHERE step = '2025_03_01_0000_contract_rows'`.execute(shared.db);

    // Act
    await contractRows.up(shared.db);

    // Assess
    expect(await rowsByName()).toEqual(once);
  });

  test("after it, the old service's inserts and header updates still get header_json, and the flags stay nullable", async () => {
    // Prepare
    await migrateToLatest(shared.db);
    const base = "sro-kb001ms-20230503-00000010";

    // Act: the old service's jpg row, then its header
    await sql`INSERT INTO images (base_filename, site, data_type, jpg_medium_exists) VALUES (${base}, 'sro', 'EX', true)`.execute(shared.db);
    await sql`UPDATE images SET header = ${'{"FILTER": "ha"}'} WHERE base_filename = ${base}`.execute(shared.db);

    // Assess
    expect((await rowsByName())[base]).toMatchObject({ header_json: { FILTER: "ha" }, fits_01_exists: null, jpg_medium_exists: true });
  });
});

/** Production's table with `count` headered exposures; every hundredth name also has a second row with a large fits. */
async function fillProductionTable(db: typeof resumed.db, count: number): Promise<void> {
  await createProductionImagesTable(db);
  await sql`
    INSERT INTO images (base_filename, site, data_type, header, capture_date, sort_date, jpg_medium_exists)
    SELECT 'sro-kb001ms-20230101-' || lpad(n::text, 8, '0'), 'sro', 'EX', ${headerA}, timestamp '2023-01-01 01:00', timestamp '2023-01-01 01:00', true
    FROM generate_series(1, ${count}::int) AS n
  `.execute(db);
  await sql`
    INSERT INTO images (base_filename, site, data_type, fits_01_exists)
    SELECT base_filename, site, data_type, true FROM images WHERE image_id % 100 = 0
  `.execute(db);
}

describe("a migration longer than one run (a Lambda invocation)", () => {
  test("runs stopped at their deadline continue one another to the schema and rows of one long run", async () => {
    // Prepare
    await fillProductionTable(resumed.db, 3000);

    // Act: runs whose deadline has passed when they start, so each does one step or batch
    const runs: MigrationOutcome[] = [];
    while (runs.length < 200 && !runs.at(-1)?.done) {
      runs.push(await migrate(resumed.db, { deadline: Date.now(), online: { batchRows: 500 } }));
    }

    // Assess
    expect(runs.at(-1)?.done).toBe(true);
    expect(runs.length).toBeGreaterThan(20);
    expect(runs.flatMap((run) => run.applied)).toEqual(Object.keys(migrations));
    const summary = await sql<{ rows: number; names: number; copied: number; merged: number }>`
      SELECT count(*)::int AS rows, count(DISTINCT base_filename)::int AS names,
        count(*) FILTER (WHERE header_json = '{"FILTER": "ha", "EXPTIME": "90"}'::jsonb)::int AS copied,
        count(*) FILTER (WHERE fits_01_exists AND jpg_medium_exists AND header IS NOT NULL)::int AS merged
      FROM images
    `.execute(resumed.db);
    expect(summary.rows[0]).toEqual({ rows: 3000, names: 3000, copied: 3000, merged: 30 });
    const progress = await sql<{ step: string; last_image_id: number }>`
      SELECT step, last_image_id FROM archive_migration_progress ORDER BY step
    `.execute(resumed.db);
    expect(progress.rows).toEqual([
      { step: "2025_01_03_0000_header_json", last_image_id: 3000 },
      { step: "2025_03_01_0000_contract_rows", last_image_id: 3000 },
    ]);
  });

  test("an index build that failed leaves an invalid index, which the next run drops, merges and builds again", async () => {
    // Prepare: what a unique build that met a duplicate leaves behind
    await fillProductionTable(interrupted.db, 500);
    const failed = sql`CREATE UNIQUE INDEX CONCURRENTLY images_base_filename_key ON images (base_filename)`.execute(interrupted.db);
    await expect(failed).rejects.toMatchObject({ code: "23505" });

    // Act
    await migrateToLatest(interrupted.db);

    // Assess
    const unique = await sql<{ valid: boolean; constraint: string | null }>`
      SELECT i.indisvalid AS valid, c.conname AS constraint
      FROM pg_index i LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid
      WHERE i.indexrelid = 'images_base_filename_key'::regclass
    `.execute(interrupted.db);
    expect(unique.rows).toEqual([{ valid: true, constraint: "images_base_filename_key" }]);
    const counts = await sql<{ rows: number }>`SELECT count(*)::int AS rows FROM images`.execute(interrupted.db);
    expect(counts.rows).toEqual([{ rows: 500 }]);
  });
});
