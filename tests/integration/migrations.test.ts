import { sql } from "kysely";
import { describe, expect, test } from "vitest";
import { MigrationError, migrateTo, migrateToLatest, migrations } from "@archive/core/platform/migrate";
import { useTestDatabase } from "../support/database";

const database = useTestDatabase({ migrate: false });
const unmigratable = useTestDatabase({ migrate: false });

const headerA = JSON.stringify({ FILTER: "ha", EXPTIME: 90 });
const headerA2 = JSON.stringify({ FILTER: "ha", EXPTIME: 91 });
const headerB = JSON.stringify({ FILTER: "r", EXPTIME: 10 });
const headerB2 = JSON.stringify({ FILTER: "g", EXPTIME: 11 });

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
      header_json: { FILTER: "ha", EXPTIME: 90 },
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
