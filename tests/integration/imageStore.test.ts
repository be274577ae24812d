import { randomInt } from "node:crypto";
import { sql } from "kysely";
import { describe, expect, test } from "vitest";
import { InvalidInputError } from "@archive/core/platform/errors";
import { parseFileName, type ArchiveFileName } from "@archive/core/names/fileName";
import type { ImageHeaderFields } from "@archive/core/exposures/imagesTable";
import {
  findHeader,
  findImage,
  hasHeader,
  imagesMatchingHeader,
  latestImages,
  recordFile,
  recordHeader,
  removeImage,
} from "@archive/core/exposures/imageStore";
import { useTestDatabase } from "../support/database";

const database = useTestDatabase();

let counter = randomInt(10_000_000, 90_000_000);

/** A base filename no other test uses. */
function uniqueBase(site = "tst", instrument = "kb001ms"): string {
  counter += 1;
  return `${site}-${instrument}-20220629-${String(counter).padStart(8, "0")}`;
}

/** A site no other test writes to. */
function uniqueSite(): string {
  return `s${randomInt(0, 36 ** 5).toString(36).padStart(5, "0")}`;
}

function file(base: string, suffix: string): ArchiveFileName {
  return parseFileName(`${base}-${suffix}`);
}

function headerFields(overrides: Partial<ImageHeaderFields> = {}): ImageHeaderFields {
  const captured = new Date("2022-06-29T03:14:15.926Z");
  return {
    right_ascension: 5.5,
    declination: -12.25,
    altitude: 61.5,
    azimuth: 182.0,
    filter_used: "ha",
    airmass: 1.14,
    exposure_time: 120,
    user_id: "google-oauth2|1234",
    username: "Ada Lovelace",
    capture_date: captured,
    sort_date: captured,
    header: JSON.stringify({ FILTER: "ha", EXPTIME: 120, "DATE-OBS": "2022-06-29T03:14:15.926" }),
    ...overrides,
  };
}

describe("recording headers and files", () => {
  test("a header creates the row with site and data type from the name and every header field", async () => {
    // Prepare
    const base = uniqueBase("sro");
    const fields = headerFields();

    // Act
    await recordHeader(database.db, file(base, "EX01.txt"), fields);

    // Assess
    const row = await findImage(database.db, base);
    expect(row).toMatchObject({
      base_filename: base,
      site: "sro",
      data_type: "EX",
      ...fields,
      fits_01_exists: false,
      fits_10_exists: false,
      jpg_medium_exists: false,
      jpg_small_exists: false,
    });
  });

  test("each file sets the flag column its extension and reduction map to", async () => {
    // Prepare
    const base = uniqueBase();

    // Act
    await recordFile(database.db, file(base, "EX10.jpg"));
    await recordFile(database.db, file(base, "EX11.jpg"));
    await recordFile(database.db, file(base, "EX00.fits.bz2"));
    await recordFile(database.db, file(base, "EX13.fits.fz"));

    // Assess
    expect(await findImage(database.db, base)).toMatchObject({
      site: "tst",
      data_type: "EX",
      header: null,
      jpg_medium_exists: true,
      jpg_small_exists: true,
      fits_01_exists: true,
      fits_10_exists: true,
    });
  });

  test("a file event never erases header fields", async () => {
    // Prepare
    const base = uniqueBase();
    const fields = headerFields({ filter_used: "r", exposure_time: 30 });
    await recordHeader(database.db, file(base, "EX01.txt"), fields);

    // Act
    await recordFile(database.db, file(base, "EX10.jpg"));
    await recordFile(database.db, file(base, "EX10.fits.bz2"));

    // Assess
    expect(await findImage(database.db, base)).toMatchObject({
      ...fields,
      jpg_medium_exists: true,
      fits_10_exists: true,
    });
  });

  test("a header never clears a file flag", async () => {
    // Prepare
    const base = uniqueBase();
    await recordFile(database.db, file(base, "EX10.jpg"));
    await recordFile(database.db, file(base, "EX01.fits.bz2"));

    // Act
    await recordHeader(database.db, file(base, "EX01.txt"), headerFields());

    // Assess
    expect(await findImage(database.db, base)).toMatchObject({
      jpg_medium_exists: true,
      fits_01_exists: true,
      jpg_small_exists: false,
      fits_10_exists: false,
      filter_used: "ha",
    });
  });

  test("a repeated header overwrites the header fields", async () => {
    // Prepare
    const base = uniqueBase();
    await recordHeader(database.db, file(base, "EX01.txt"), headerFields({ airmass: 2.5, username: "first" }));
    const replacement = headerFields({ airmass: 1.01, username: null, right_ascension: null });

    // Act
    await recordHeader(database.db, file(base, "EX01.fits.bz2"), replacement);
    await recordHeader(database.db, file(base, "EX01.fits.bz2"), replacement);

    // Assess
    expect(await findImage(database.db, base)).toMatchObject(replacement);
  });

  test("a txt file only ensures the row and sets no flag", async () => {
    // Prepare
    const base = uniqueBase();

    // Act
    await recordFile(database.db, file(base, "EX01.txt"));
    await recordFile(database.db, file(base, "EX01.txt"));

    // Assess
    const rows = await database.db.selectFrom("images").selectAll().where("base_filename", "=", base).execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      header: null,
      fits_01_exists: false,
      fits_10_exists: false,
      jpg_medium_exists: false,
      jpg_small_exists: false,
    });
  });

  test("the longest site and instrument the parser accepts are stored whole", async () => {
    // Prepare
    const base = uniqueBase("abcdef", "instrument123456");

    // Act
    await recordFile(database.db, file(base, "EX10.jpg"));

    // Assess
    expect(await findImage(database.db, base)).toMatchObject({ base_filename: base, site: "abcdef" });
  });

  test("capture dates are stored and read back as the same UTC instant", async () => {
    // Prepare
    const base = uniqueBase();
    const instant = new Date("2023-12-31T23:59:59.123Z");

    // Act
    await recordHeader(database.db, file(base, "EX01.txt"), headerFields({ capture_date: instant, sort_date: instant }));

    // Assess
    const stored = await database.db
      .selectFrom("images")
      .select(sql<string>`to_char(capture_date, 'YYYY-MM-DD HH24:MI:SS.MS')`.as("text"))
      .where("base_filename", "=", base)
      .executeTakeFirstOrThrow();
    expect(stored.text).toBe("2023-12-31 23:59:59.123");
    expect((await findImage(database.db, base))?.capture_date).toEqual(instant);
  });
});

describe("removing images", () => {
  test("removeImage deletes the row and says whether there was one", async () => {
    // Prepare
    const base = uniqueBase();
    await recordFile(database.db, file(base, "EX10.jpg"));

    // Act
    const first = await removeImage(database.db, base);
    const second = await removeImage(database.db, base);

    // Assess
    expect([first, second]).toEqual([true, false]);
    expect(await findImage(database.db, base)).toBeUndefined();
  });
});

describe("reading images", () => {
  test("hasHeader and findHeader see a header only once one is recorded", async () => {
    // Prepare
    const base = uniqueBase();
    const fields = headerFields();
    await recordFile(database.db, file(base, "EX10.jpg"));
    const before = { has: await hasHeader(database.db, base), header: await findHeader(database.db, base) };

    // Act
    await recordHeader(database.db, file(base, "EX01.txt"), fields);

    // Assess
    expect(before).toEqual({ has: false, header: undefined });
    expect(await hasHeader(database.db, base)).toBe(true);
    expect(await findHeader(database.db, base)).toBe(fields.header);
    expect(await findHeader(database.db, uniqueBase())).toBeUndefined();
  });

  test("latestImages lists a site's exposures with a medium jpg, newest sort_date first, at most limit", async () => {
    // Prepare
    const site = uniqueSite();
    const [older, newest, middle, noJpg, undated] = [1, 2, 3, 4, 5].map(() => uniqueBase(site));
    const dated = (base: string | undefined, iso: string) =>
      recordHeader(database.db, file(base ?? "", "EX01.txt"), headerFields({ sort_date: new Date(iso) }));
    await dated(older, "2022-06-29T01:00:00Z");
    await dated(newest, "2022-06-29T03:00:00Z");
    await dated(middle, "2022-06-29T02:00:00Z");
    await dated(noJpg, "2022-06-29T04:00:00Z");
    for (const base of [older, newest, middle, undated]) await recordFile(database.db, file(base ?? "", "EX10.jpg"));
    await recordFile(database.db, file(uniqueBase(uniqueSite()), "EX10.jpg"));

    // Act
    const all = await latestImages(database.db, site, 10);
    const two = await latestImages(database.db, site, 2);

    // Assess
    expect(all.map((row) => row.base_filename)).toEqual([newest, middle, older, undated]);
    expect(two.map((row) => row.base_filename)).toEqual([newest, middle]);
  });
});

describe("querying headers", () => {
  test("a keyword query finds the exposures whose header matches, through the GIN index", async () => {
    // Prepare
    const site = uniqueSite();
    const longHa = uniqueBase(site);
    const shortHa = uniqueBase(site);
    const longR = uniqueBase(site);
    const header = (filter: string, exptime: number) =>
      headerFields({ header: JSON.stringify({ FILTER: filter, EXPTIME: exptime, SITE: site }) });
    await recordHeader(database.db, file(longHa, "EX01.txt"), header("ha", 300));
    await recordHeader(database.db, file(shortHa, "EX01.txt"), header("ha", 30));
    await recordHeader(database.db, file(longR, "EX01.txt"), header("r", 300));
    const predicate = `$.FILTER == "ha" && $.EXPTIME > 60 && $.SITE == "${site}"`;

    // Act
    const found = await imagesMatchingHeader(database.db, predicate, 10);
    const plan = await database.db.transaction().execute(async (trx) => {
      await sql`SET LOCAL enable_seqscan = off`.execute(trx);
      const explained = await sql<{ "QUERY PLAN": string }>`
        EXPLAIN SELECT image_id FROM images WHERE header_json @@ ${predicate}::jsonpath
      `.execute(trx);
      return explained.rows.map((row) => row["QUERY PLAN"]).join("\n");
    });

    // Assess
    expect(found.map((row) => row.base_filename)).toEqual([longHa]);
    expect(plan).toContain("images_header_json_idx");
  });

  test("a replaced header is what keyword queries see", async () => {
    // Prepare
    const site = uniqueSite();
    const base = uniqueBase(site);
    await recordHeader(database.db, file(base, "EX01.txt"), headerFields({ header: JSON.stringify({ FILTER: "r" }) }));
    await recordFile(database.db, file(base, "EX10.jpg"));

    // Act
    await recordHeader(database.db, file(base, "EX01.fits.bz2"), headerFields({ header: JSON.stringify({ FILTER: "g" }) }));

    // Assess
    const row = await database.db
      .selectFrom("images")
      .select("header_json")
      .where("base_filename", "=", base)
      .executeTakeFirstOrThrow();
    expect(row.header_json).toEqual({ FILTER: "g" });
    expect(await imagesMatchingHeader(database.db, '$.FILTER == "r"', 1000)).not.toContainEqual(
      expect.objectContaining({ base_filename: base }),
    );
  });

  test("a header query Postgres cannot parse is invalid input", async () => {
    // Act
    const attempt = imagesMatchingHeader(database.db, "$.FILTER ==", 10);

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(InvalidInputError);
  });
});
