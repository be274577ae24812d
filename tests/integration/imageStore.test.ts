import { randomInt } from "node:crypto";
import { sql } from "kysely";
import { beforeAll, describe, expect, test } from "vitest";
import { InvalidInputError } from "@archive/core/platform/errors";
import { parseFileName, type ArchiveFileName } from "@archive/core/names/fileName";
import type { ImageHeaderFields } from "@archive/core/exposures/imagesTable";
import { hasHeader, recordFile, recordHeader, removeImage } from "@archive/core/exposures/imageStore";
import { findHeader, findImage, imagesMatchingHeader, latestSiteImages } from "@archive/core/exposures/imageQueries";
import { useTestDatabase } from "../support/database";

const database = useTestDatabase();

// Production's flags are nullable without a default (CONTRACTS.md): every write must set them itself.
beforeAll(async () => {
  for (const flag of ["fits_01_exists", "fits_10_exists", "jpg_medium_exists", "jpg_small_exists"]) {
    await sql`ALTER TABLE images ALTER COLUMN ${sql.ref(flag)} DROP NOT NULL, ALTER COLUMN ${sql.ref(flag)} DROP DEFAULT`.execute(
      database.db,
    );
  }
});

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

/** The stored row itself, flags as they are (a read coalesces them). */
async function storedRow(base: string) {
  return database.db.selectFrom("images").selectAll().where("base_filename", "=", base).executeTakeFirstOrThrow();
}

function headerFields(overrides: Partial<ImageHeaderFields> = {}): ImageHeaderFields {
  const captured = new Date("2022-06-29T03:14:15.926Z");
  return {
    right_ascension: 82.5,
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
    header: '{"FILTER": "ha", "EXPTIME": "120", "DATE-OBS": "2022-06-29T03:14:15.926", "END": ""}',
    header_json: JSON.stringify({ FILTER: "ha", EXPTIME: 120, "DATE-OBS": "2022-06-29T03:14:15.926" }),
    ...overrides,
  };
}

const ARRIVED = new Date("2022-06-29T05:00:00.000Z");

/** The two header columns of a header: its values as strings, and typed. */
function typedHeader(cards: Record<string, string | number | boolean>): Pick<ImageHeaderFields, "header" | "header_json"> {
  const strings = Object.fromEntries(Object.entries(cards).map(([keyword, value]) => [keyword, String(value)]));
  return { header: JSON.stringify(strings), header_json: JSON.stringify(cards) };
}

/** An UPDATE or INSERT as the old service writes the header: the `header` column only. */
async function oldServiceWritesHeader(base: string, header: string): Promise<void> {
  await sql`
    INSERT INTO images (base_filename, site, data_type, capture_date, sort_date, header)
    VALUES (${base}, 'tst', 'EX', now(), now(), ${header})
    ON CONFLICT (base_filename) DO NOTHING
  `.execute(database.db);
  await sql`UPDATE images SET header = ${header} WHERE base_filename = ${base}`.execute(database.db);
}

describe("recording headers and files", () => {
  test("a header creates the row with site and data type from the name, every header field and four false flags", async () => {
    // Prepare
    const base = uniqueBase("sro");
    const { header_json: typed, ...fields } = headerFields();

    // Act
    await recordHeader(database.db, file(base, "EX01.txt"), { ...fields, header_json: typed }, ARRIVED);

    // Assess
    expect(await storedRow(base)).toMatchObject({
      base_filename: base,
      site: "sro",
      data_type: "EX",
      ...fields,
      header_json: JSON.parse(typed ?? "null"),
      fits_01_exists: false,
      fits_10_exists: false,
      jpg_medium_exists: false,
      jpg_small_exists: false,
    });
  });

  test("a file creating the row dates it by its arrival and writes all four flags", async () => {
    // Prepare
    const base = uniqueBase();

    // Act
    await recordFile(database.db, file(base, "EX10.jpg"), ARRIVED);

    // Assess
    expect(await storedRow(base)).toMatchObject({
      capture_date: ARRIVED,
      sort_date: ARRIVED,
      header: null,
      jpg_medium_exists: true,
      jpg_small_exists: false,
      fits_01_exists: false,
      fits_10_exists: false,
    });
  });

  test("a file that sets no flag still creates a dated row with four false flags", async () => {
    // Prepare
    const base = uniqueBase();

    // Act
    await recordFile(database.db, file(base, "EX05.jpg"), ARRIVED);

    // Assess
    expect(await storedRow(base)).toMatchObject({
      capture_date: ARRIVED,
      sort_date: ARRIVED,
      fits_01_exists: false,
      fits_10_exists: false,
      jpg_medium_exists: false,
      jpg_small_exists: false,
    });
  });

  test("DATE-OBS replaces the arrival time; a later header without DATE-OBS keeps it", async () => {
    // Prepare
    const base = uniqueBase();
    const observed = new Date("2022-06-29T03:14:15.926Z");
    await recordFile(database.db, file(base, "EX10.jpg"), ARRIVED);

    // Act
    await recordHeader(database.db, file(base, "EX01.txt"), headerFields({ capture_date: observed, sort_date: observed }));
    const withDateObs = await storedRow(base);
    await recordHeader(database.db, file(base, "EX01.fits.bz2"), headerFields({ capture_date: null, sort_date: null }));

    // Assess
    expect(withDateObs).toMatchObject({ capture_date: observed, sort_date: observed });
    expect(await storedRow(base)).toMatchObject({ capture_date: observed, sort_date: observed });
  });

  test("a header without DATE-OBS dates a new row by its arrival, and keeps the date of a row a file dated", async () => {
    // Prepare
    const [headerFirst, fileFirst] = [uniqueBase(), uniqueBase()];
    const undated = headerFields({ capture_date: null, sort_date: null });
    const later = new Date(ARRIVED.getTime() + 60_000);
    await recordFile(database.db, file(fileFirst, "EX10.jpg"), ARRIVED);

    // Act
    await recordHeader(database.db, file(headerFirst, "EX01.txt"), undated, ARRIVED);
    await recordHeader(database.db, file(fileFirst, "EX01.txt"), undated, later);
    await recordFile(database.db, file(headerFirst, "EX10.jpg"), later);

    // Assess
    expect(await storedRow(headerFirst)).toMatchObject({ capture_date: ARRIVED, sort_date: ARRIVED });
    expect(await storedRow(fileFirst)).toMatchObject({ capture_date: ARRIVED, sort_date: ARRIVED });
  });

  test("files of a row without a header date it by the earliest arrival, whatever order they are recorded in", async () => {
    // Prepare
    const base = uniqueBase();
    const earliest = new Date("2022-06-29T04:59:00.000Z");

    // Act
    await recordFile(database.db, file(base, "EX10.jpg"), ARRIVED);
    await recordFile(database.db, file(base, "EX11.jpg"), earliest);
    await recordFile(database.db, file(base, "EX10.fits.bz2"), new Date("2022-06-29T05:01:00.000Z"));

    // Assess
    expect(await storedRow(base)).toMatchObject({ capture_date: earliest, sort_date: earliest });
  });

  test("data_type is the newest file's", async () => {
    // Prepare
    const base = uniqueBase();
    await recordFile(database.db, file(base, "EX10.jpg"));
    await recordHeader(database.db, file(base, "EP01.txt"), headerFields());
    const afterHeader = (await storedRow(base)).data_type;

    // Act
    await recordFile(database.db, file(base, "EF10.fits"));

    // Assess
    expect(afterHeader).toBe("EP");
    expect((await storedRow(base)).data_type).toBe("EF");
  });

  test("flags the old service left NULL read as false, and this archive's next write stores them false", async () => {
    // Prepare: the old service inserts only the flag of its file
    const base = uniqueBase();
    await sql`
      INSERT INTO images (base_filename, site, data_type, capture_date, sort_date, jpg_medium_exists)
      VALUES (${base}, 'tst', 'EX', now(), now(), true)
    `.execute(database.db);
    const read = await findImage(database.db, base);

    // Act
    await recordFile(database.db, file(base, "EX11.jpg"));

    // Assess
    expect(read).toMatchObject({ jpg_medium_exists: true, jpg_small_exists: false, fits_01_exists: false, fits_10_exists: false });
    expect(await storedRow(base)).toMatchObject({
      jpg_medium_exists: true,
      jpg_small_exists: true,
      fits_01_exists: false,
      fits_10_exists: false,
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
    const { header_json: typed, ...columns } = fields;
    expect(await storedRow(base)).toMatchObject({
      ...columns,
      header_json: JSON.parse(typed ?? "null"),
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
    const { header_json: _typed, ...columns } = replacement;
    expect(await findImage(database.db, base)).toMatchObject(columns);
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
    // Prepare: a jpg without a header is dated by its arrival
    const site = uniqueSite();
    const [older, newest, middle, noJpg, headerless] = [1, 2, 3, 4, 5].map(() => uniqueBase(site));
    const dated = (base: string | undefined, iso: string) =>
      recordHeader(database.db, file(base ?? "", "EX01.txt"), headerFields({ sort_date: new Date(iso) }));
    await dated(older, "2022-06-29T01:00:00Z");
    await dated(newest, "2022-06-29T03:00:00Z");
    await dated(middle, "2022-06-29T02:00:00Z");
    await dated(noJpg, "2022-06-29T04:00:00Z");
    for (const base of [older, newest, middle]) await recordFile(database.db, file(base ?? "", "EX10.jpg"));
    await recordFile(database.db, file(headerless ?? "", "EX10.jpg"), new Date("2022-06-29T02:30:00Z"));
    await recordFile(database.db, file(uniqueBase(uniqueSite()), "EX10.jpg"));

    // Act
    const all = await latestSiteImages(database.db, site, 10);
    const two = await latestSiteImages(database.db, site, 2);

    // Assess
    expect(all.map((row) => row.base_filename)).toEqual([newest, headerless, middle, older]);
    expect(two.map((row) => row.base_filename)).toEqual([newest, headerless]);
  });
});

describe("querying headers", () => {
  test("a keyword query finds the exposures whose header matches, through the GIN index", async () => {
    // Prepare
    const site = uniqueSite();
    const longHa = uniqueBase(site);
    const shortHa = uniqueBase(site);
    const longR = uniqueBase(site);
    const header = (filter: string, exptime: number) => headerFields(typedHeader({ FILTER: filter, EXPTIME: exptime, SITE: site }));
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
    await recordHeader(database.db, file(base, "EX01.txt"), headerFields(typedHeader({ FILTER: "r" })));
    await recordFile(database.db, file(base, "EX10.jpg"));

    // Act
    await recordHeader(database.db, file(base, "EX01.fits.bz2"), headerFields(typedHeader({ FILTER: "g" })));

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

  test("header_json is the typed header this archive writes with the header's strings", async () => {
    // Prepare
    const base = uniqueBase();

    // Act
    await recordHeader(database.db, file(base, "EX01.txt"), headerFields(typedHeader({ EXPTIME: 300, COOLED: false })));

    // Assess
    expect(await storedRow(base)).toMatchObject({
      header: '{"EXPTIME":"300","COOLED":"false"}',
      header_json: { EXPTIME: 300, COOLED: false },
    });
    expect(await imagesMatchingHeader(database.db, "$.EXPTIME > 299", 1000)).toContainEqual(
      expect.objectContaining({ base_filename: base }),
    );
  });

  test("a header the old service writes, without header_json, gets header_json derived from it", async () => {
    // Prepare
    const [inserted, updated] = [uniqueBase(), uniqueBase()];
    await oldServiceWritesHeader(updated, '{"FILTER": "r"}');

    // Act
    await oldServiceWritesHeader(inserted, '{"FILTER": "ha"}');
    await oldServiceWritesHeader(updated, '{"FILTER": "g"}');

    // Assess
    expect((await storedRow(inserted)).header_json).toEqual({ FILTER: "ha" });
    expect((await storedRow(updated)).header_json).toEqual({ FILTER: "g" });
  });

  test("a typed header_json this archive wrote stays when the header text changes but the typed header does not", async () => {
    // Prepare: the header sent with the upload request, then the same header from the txt, written differently
    const base = uniqueBase();
    await recordHeader(database.db, file(base, "EX01.fits.bz2"), headerFields({ header: '{"EXPTIME": "30"}', header_json: '{"EXPTIME": 30}' }));

    // Act
    await recordHeader(database.db, file(base, "EX01.txt"), headerFields({ header: '{"EXPTIME": "30.000"}', header_json: '{"EXPTIME": 30}' }));

    // Assess
    expect(await storedRow(base)).toMatchObject({ header: '{"EXPTIME": "30.000"}', header_json: { EXPTIME: 30 } });
  });

  test("this archive's header replaces one the old service wrote, typed", async () => {
    // Prepare
    const base = uniqueBase();
    await oldServiceWritesHeader(base, '{"EXPTIME": "30.000"}');

    // Act
    await recordHeader(database.db, file(base, "EX01.txt"), headerFields({ header: '{"EXPTIME": "30.000"}', header_json: '{"EXPTIME": 30}' }));

    // Assess
    expect((await storedRow(base)).header_json).toEqual({ EXPTIME: 30 });
  });

  test("the old service rewriting the header of a row this archive wrote keeps the typed header_json", async () => {
    // Prepare: both systems read the same .txt during the cut-over
    const base = uniqueBase();
    await recordHeader(database.db, file(base, "EX01.txt"), headerFields({ header: '{"EXPTIME": "30.000"}', header_json: '{"EXPTIME": 30}' }));

    // Act
    await oldServiceWritesHeader(base, '{"EXPTIME": "30.000", "END": ""}');

    // Assess
    expect(await storedRow(base)).toMatchObject({ header: '{"EXPTIME": "30.000", "END": ""}', header_json: { EXPTIME: 30 } });
  });

  test("a header query Postgres cannot parse is invalid input", async () => {
    // Act
    const attempt = imagesMatchingHeader(database.db, "$.FILTER ==", 10);

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(InvalidInputError);
  });
});
