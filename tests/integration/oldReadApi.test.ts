import { readFileSync } from "node:fs";
import { sql } from "kysely";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { imageFieldsFromHeader } from "@archive/core/exposures/imageRecord";
import { recordFile, recordHeader } from "@archive/core/exposures/imageStore";
import { parseHeaderText } from "@archive/core/fits/cards";
import { parseFileName } from "@archive/core/names/fileName";
import { migrateToLatest } from "@archive/core/platform/migrate";
import * as contractRows from "@archive/core/platform/migrations/2025_03_01_0000_contract_rows";
import { useTestDatabase } from "../support/database";
import { buildFitsHeader, type CardSpec } from "../support/fits";
import {
  createProductionImagesTable,
  oldServiceRecordsFile,
  oldServiceRecordsHeader,
  scanHeaderFile,
} from "../support/replacedService";

/*
 * The old read API (LCOGT/photonranch-api at e3b69d9, api/db.py) keeps reading the shared `images` table during the
 * cut-over. Its image routes run the SQL below (what SQLAlchemy sends for each query) and the Python after it,
 * re-expressed here: Image.get_image_pkg, filter_img_pkgs_final_sstack, get_fits_header_from_db and
 * get_files_within_date_range. The same exposures are written twice, by this archive's store (site "arc") and as the
 * replaced service writes them (site "ptr"), into production's table shape; every answer must be the same.
 */

const database = useTestDatabase({ migrate: false });

const TIMESTAMP = 1114;
let oldApi: pg.Client;

beforeAll(async () => {
  await createProductionImagesTable(database.db);
  await migrateToLatest(database.db);
  // psycopg2 hands the API naive datetimes with microseconds: read timestamps as their text
  oldApi = new pg.Client({
    connectionString: database.url,
    types: { getTypeParser: ((oid: number) => (oid === TIMESTAMP ? (text: string) => text : pg.types.getTypeParser(oid))) as pg.CustomTypesConfig["getTypeParser"] },
  });
  await oldApi.connect();
});

afterAll(async () => {
  await oldApi.end();
});

// ---- the old read API ------------------------------------------------------------------------------------------

interface ImageModelRow {
  image_id: number;
  base_filename: string;
  data_type: string | null;
  site: string | null;
  capture_date: string | null;
  sort_date: string | null;
  right_ascension: number | null;
  declination: number | null;
  fits_01_exists: boolean | null;
  fits_10_exists: boolean | null;
  jpg_medium_exists: boolean | null;
  jpg_small_exists: boolean | null;
  altitude: number | null;
  azimuth: number | null;
  filter_used: string | null;
  airmass: number | null;
  exposure_time: number | null;
  username: string | null;
  user_id: string | null;
  header: string | null;
}

type ImagePackage = Record<string, unknown>;

/** The Image model's columns, as SQLAlchemy selects them. */
const MODEL_COLUMNS =
  "images.image_id, images.base_filename, images.data_type, images.site, images.capture_date, images.sort_date, " +
  "images.right_ascension, images.declination, images.fits_01_exists, images.fits_10_exists, images.jpg_medium_exists, " +
  "images.jpg_small_exists, images.altitude, images.azimuth, images.filter_used, images.airmass, images.exposure_time, " +
  "images.username, images.user_id, images.header";

async function query(text: string, values: unknown[]): Promise<ImageModelRow[]> {
  return (await oldApi.query<ImageModelRow>(text, values)).rows;
}

class PythonError extends Error {}

/** Python's `a + b` on what json.loads gave: only str + str concatenates. */
function concat(...parts: unknown[]): string {
  if (!parts.every((part): part is string => typeof part === "string")) throw new PythonError("TypeError: can only concatenate str");
  return parts.join("");
}

/** str.isdigit(); anything but a str has no such method. */
function isdigit(value: unknown): boolean {
  if (typeof value !== "string") throw new PythonError(`AttributeError: '${typeof value}' object has no attribute 'isdigit'`);
  return /^[0-9]+$/.test(value);
}

function int(value: unknown): number {
  if (typeof value === "number") return Math.trunc(value);
  if (typeof value !== "string" || !/^\s*[+-]?[0-9]+\s*$/.test(value)) throw new PythonError(`ValueError: invalid literal for int(): ${String(value)}`);
  return Number(value);
}

/** int(1000 * naive.timestamp()) on the Lambda (TZ UTC): whole seconds + microseconds / 1e6, then × 1000, truncated. */
function milliseconds(timestamp: string | null): number {
  if (timestamp === null) throw new PythonError("AttributeError: 'NoneType' object has no attribute 'timestamp'");
  const match = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?$/.exec(timestamp);
  if (match === null) throw new Error(`not a timestamp: ${timestamp}`);
  const [, y, mo, d, h, mi, s, fraction = ""] = match;
  const seconds = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)) / 1000;
  const micros = Number(fraction.padEnd(6, "0"));
  return Math.trunc(1000 * (seconds + micros / 1e6));
}

/** get_s3_image_path: what get_s3_file_url presigns (the test compares the keys, not signatures). */
const jpgPath = (row: ImageModelRow, reduction: string) => `data/${row.base_filename}-${row.data_type ?? "None"}${reduction}.jpg`;

/** Image.get_image_pkg. */
function imagePackage(row: ImageModelRow): ImagePackage {
  const header: unknown = row.header !== null ? JSON.parse(row.header) : null;
  const dictionary = header as Record<string, unknown> | null;
  let fitsFilename: unknown = "";
  let fitsPath: unknown = "";
  if (dictionary !== null && Object.keys(dictionary).length > 0) {
    fitsPath = concat(dictionary.SITEID ?? "", "/", dictionary.INSTRUME ?? "");
    fitsPath = concat(fitsPath, "/", dictionary["DAY-OBS"] ?? "", "/raw");
    fitsFilename = dictionary.ORIGNAME ?? "";
  }
  return {
    image_id: row.image_id,
    base_filename: row.base_filename,
    data_type: row.data_type,
    site: row.site,
    exposure_time: row.exposure_time,
    filter_used: row.filter_used,
    right_ascension: row.right_ascension,
    declination: row.declination,
    azimuth: row.azimuth,
    altitude: row.altitude,
    airmass: row.airmass,
    fits_01_exists: row.fits_01_exists,
    fits_10_exists: row.fits_10_exists,
    jpg_medium_exists: row.jpg_medium_exists,
    jpg_small_exists: row.jpg_small_exists,
    s3_directory: "data",
    username: row.username,
    user_id: row.user_id,
    fits_filename: fitsFilename,
    fits_path: fitsPath,
    SMARTSTK: dictionary !== null ? (dictionary.SMARTSTK ?? "") : "",
    SSTKNUM: dictionary !== null ? (dictionary.SSTKNUM ?? "") : "",
    capture_date: milliseconds(row.capture_date),
    sort_date: milliseconds(row.sort_date),
    jpg_url: row.jpg_medium_exists ? jpgPath(row, "10") : "",
    jpg_thumbnail_url: row.jpg_small_exists ? jpgPath(row, "11") : "",
  };
}

/** filter_img_pkgs_final_sstack: only the last member of each smart stack. */
function finalSmartStacks(packages: ImagePackage[]): ImagePackage[] {
  const highest = new Map<unknown, number>();
  for (const pkg of packages) {
    if (!isdigit(pkg.SSTKNUM ?? 0)) continue;
    const stack = pkg.SMARTSTK;
    const number = int(pkg.SSTKNUM ?? 0);
    if (stack === undefined || stack === null || stack === "no") continue;
    if (!highest.has(stack) || number > (highest.get(stack) ?? 0)) highest.set(stack, number);
  }
  return packages.filter(
    (pkg) =>
      pkg.SMARTSTK === undefined ||
      pkg.SSTKNUM === undefined ||
      pkg.SMARTSTK === "no" ||
      !isdigit(pkg.SMARTSTK) ||
      int(pkg.SSTKNUM ?? 0) >= (highest.get(pkg.SMARTSTK) ?? 0),
  );
}

const old = {
  /** get_latest_site_images */
  async latestImages(site: string, numberOfImages: string, userId?: string): Promise<ImagePackage[]> {
    const byUser = userId === undefined ? "" : " AND images.user_id = $3";
    const rows = await query(
      `SELECT ${MODEL_COLUMNS} FROM images WHERE images.site = $1 AND images.jpg_medium_exists IS true${byUser} ` +
        "ORDER BY images.sort_date DESC LIMIT $2",
      userId === undefined ? [site, numberOfImages] : [site, numberOfImages, userId],
    );
    return rows.map(imagePackage);
  },

  /** get_latest_image_all_sites (get_jpg_url of each site's newest) */
  async latestImageAllSites(sites: readonly string[]): Promise<Record<string, string>> {
    const results: Record<string, string> = {};
    for (const site of sites) {
      const [row] = await query(
        `SELECT ${MODEL_COLUMNS} FROM images WHERE images.site = $1 AND images.jpg_medium_exists = true ` +
          "ORDER BY images.sort_date DESC LIMIT 1",
        [site],
      );
      if (row !== undefined) results[site] = row.jpg_medium_exists ? jpgPath(row, "10") : "";
    }
    return results;
  },

  /** get_fits_header_from_db: .one() on the header, json.loads, {} for none */
  async fitsHeader(baseFilename: string): Promise<unknown> {
    const rows = (await oldApi.query<{ header: string | null }>("SELECT images.header FROM images WHERE images.base_filename = $1", [baseFilename])).rows;
    if (rows.length !== 1) return rows.length === 0 ? "NoResultFound" : "MultipleResultsFound";
    const header = rows[0]?.header ?? null;
    return header !== null ? JSON.parse(header) : {};
  },

  /** filtered_images_query_handler + filtered_images_query */
  async filteredImages(parameters: Record<string, string>): Promise<ImagePackage[]> {
    const conditions: string[] = [];
    const values: string[] = [];
    const where = (condition: (placeholder: string) => string, value: string) => {
      values.push(value);
      conditions.push(condition(`$${values.length}`));
    };
    const given = (name: string) => parameters[name];
    const p = (name: string, condition: (placeholder: string) => string) => {
      const value = given(name);
      if (value !== undefined) where(condition, value);
    };
    p("username", (v) => `images.username = ${v}`);
    p("user_id", (v) => `images.user_id = ${v}`);
    p("site", (v) => `images.site = ${v}`);
    p("filter", (v) => `images.filter_used = ${v}`);
    p("exposure_time_min", (v) => `images.exposure_time >= ${v}`);
    p("exposure_time_max", (v) => `images.exposure_time <= ${v}`);
    p("start_date", (v) => `images.capture_date >= ${v}`);
    p("end_date", (v) => `images.capture_date <= ${v}`);
    p("filename", (v) => `images.base_filename LIKE ${v}`);
    conditions.push("images.jpg_medium_exists IS true");
    const rows = await query(`SELECT ${MODEL_COLUMNS} FROM images WHERE ${conditions.join(" AND ")} ORDER BY images.sort_date DESC`, values);
    return finalSmartStacks(rows.map(imagePackage));
  },

  /** get_image_by_filename: .one() among rows with the medium jpg */
  async image(baseFilename: string): Promise<ImagePackage | string> {
    const rows = await query(`SELECT ${MODEL_COLUMNS} FROM images WHERE images.base_filename = $1 AND images.jpg_medium_exists IS true`, [baseFilename]);
    if (rows.length !== 1) return rows.length === 0 ? "NoResultFound" : "MultipleResultsFound";
    return imagePackage(rows[0] as ImageModelRow);
  },

  /** get_files_within_date_range (POST /downloadzip): datetime.fromtimestamp on the Lambda, in UTC */
  async filesWithinDateRange(site: string, startS: number, endS: number, fitsSize: "small" | "large" | "best"): Promise<string[]> {
    const naive = (seconds: number) => new Date(seconds * 1000).toISOString().replace("T", " ").replace("Z", "");
    const flag = fitsSize === "small" ? " AND images.fits_10_exists IS true" : fitsSize === "large" ? " AND images.fits_01_exists IS true" : "";
    const rows = await query(
      `SELECT ${MODEL_COLUMNS} FROM images WHERE images.site = $1 AND images.capture_date >= $2 AND images.capture_date <= $3${flag}`,
      [site, naive(startS), naive(endS)],
    );
    return rows.map((row) => {
      if (fitsSize === "small") return `${row.base_filename}-${row.data_type ?? "None"}10.fits.fz`;
      if (fitsSize === "large") return `${row.base_filename}-${row.data_type ?? "None"}01.fits.fz`;
      if (row.fits_01_exists) return `${row.base_filename}-${row.data_type ?? "None"}01.fits.fz`;
      if (row.fits_10_exists) return `${row.base_filename}-${row.data_type ?? "None"}10.fits.fz`;
      return "";
    });
  },
};

// ---- the exposures, written by both systems ----------------------------------------------------------------------

const ARCHIVE = "arc";
const REPLACED = "ptr";

interface Exposure {
  /** the base filename without its site */
  name: string;
  /** the header .txt, if one is uploaded */
  txt?: Uint8Array;
  /** each file's suffix and arrival, in the order both systems process them */
  files: ReadonlyArray<readonly [suffix: string, arrival: string]>;
}

function headerText(cards: readonly CardSpec[]): Uint8Array {
  return Buffer.from(buildFitsHeader(cards), "latin1");
}

/** A PTR header as sites write it; numbers given as card text are kept exactly as written. */
function ptrHeader(options: { dateObs: string; filter: string; exptime: string; user: string; stack?: [string, string] }): Uint8Array {
  const fixed = (keyword: string, text: string, comment?: string) =>
    `${keyword.padEnd(8)}= ${text.padStart(20)}${comment === undefined ? "" : ` / ${comment}`}`;
  return headerText([
    ["SIMPLE", true, "conforms to FITS standard"],
    ["BITPIX", 16],
    ["NAXIS", 0],
    ["SITEID", "tst", "Site ID"],
    ["INSTRUME", "kb001ms", "Instrument"],
    ["ORIGNAME", `tst-kb001ms-${options.dateObs.slice(0, 10).replace(/-/g, "")}-00000001-EX00.fits`],
    ["DATE-OBS", options.dateObs, "[ISO 8601] UTC start of the exposure"],
    ["DAY-OBS", options.dateObs.slice(0, 10).replace(/-/g, "")],
    ["FILTER", options.filter],
    fixed("EXPTIME", options.exptime, "[s] exposure"),
    ["USERID", `auth0|${options.user}`],
    ["USERNAME", options.user],
    fixed("CRVAL1", "201.165058", "[deg] RA at the reference pixel"),
    fixed("CRVAL2", "-38.526307", "[deg] Dec at the reference pixel"),
    ["CTYPE1", "RA---TAN"],
    ["CTYPE2", "DEC--TAN"],
    fixed("ALTITUDE", "25.0"),
    fixed("AZIMUTH", "83.779"),
    fixed("AIRMASS", "2.3662"),
    ...(options.stack === undefined
      ? []
      : ([["SMARTSTK", options.stack[0], "Smart stack ID"], fixed("SSTKNUM", options.stack[1], "Smart stack number")] as CardSpec[])),
    "COMMENT Data generated by the Photon Ranch observatory control software",
    "HISTORY Bias subtracted",
  ]);
}

const exposures: Exposure[] = [
  {
    name: "kb001ms-20220629-00000001",
    txt: readFileSync(new URL("../fixtures/header_108_cards.txt", import.meta.url)),
    files: [["EX10.jpg", "2022-06-29T04:14:02Z"], ["EX00.txt", "2022-06-29T04:14:03Z"], ["EX11.jpg", "2022-06-29T04:14:04Z"], ["EX00.fits.bz2", "2022-06-29T04:15:00Z"]],
  },
  ...[1, 2, 3].map((number) => ({
    name: `kb001ms-20230309-0000001${number}`,
    txt: ptrHeader({ dateObs: `2023-03-09T0${number}:00:00.5`, filter: "r", exptime: "30.000", user: "Vera", stack: ["1656", String(number)] }),
    files: [["EX00.txt", `2023-03-09T0${number}:01:00Z`], ["EX10.jpg", `2023-03-09T0${number}:01:05Z`], ["EX10.fits.bz2", `2023-03-09T0${number}:02:00Z`]] as const,
  })),
  {
    name: "kb001ms-20230309-00000020",
    txt: ptrHeader({ dateObs: "2023-03-09T04:00:00.250", filter: "ha", exptime: "300", user: "Henrietta", stack: ["no", "0"] }),
    files: [["EX10.jpg", "2023-03-09T04:06:00Z"], ["EX00.txt", "2023-03-09T04:06:01Z"], ["EX01.fits.bz2", "2023-03-09T04:07:00Z"]],
  },
  {
    name: "kb001ms-20230309-00000021",
    txt: ptrHeader({ dateObs: "2023-03-09T04:30:00", filter: "ha", exptime: "60", user: "Henrietta" }),
    files: [["EX00.txt", "2023-03-09T04:31:00Z"], ["EX10.jpg", "2023-03-09T04:31:02Z"]],
  },
  // a jpg whose header never came: dated by its arrival (the old service: datetime.utcnow() when it ran)
  { name: "kb001ms-20230309-00000030", files: [["EX10.jpg", "2023-03-09T05:00:00Z"], ["EX11.jpg", "2023-03-09T05:00:01Z"]] },
  // a header and fits files but no jpg yet
  {
    name: "kb001ms-20230309-00000031",
    txt: ptrHeader({ dateObs: "2023-03-09T05:10:00", filter: "r", exptime: "10", user: "Vera" }),
    files: [["EX00.txt", "2023-03-09T05:11:00Z"], ["EX01.fits.bz2", "2023-03-09T05:12:00Z"]],
  },
];

const base = (site: string, exposure: Exposure) => `${site}-${exposure.name}`;

/** What ingestion does with each file, through this archive's store. */
async function archiveWrites(exposure: Exposure): Promise<void> {
  for (const [suffix, arrival] of exposure.files) {
    const file = parseFileName(`${base(ARCHIVE, exposure)}-${suffix}`);
    if (file.extension === "txt" && exposure.txt !== undefined) {
      await recordHeader(database.db, file, imageFieldsFromHeader(parseHeaderText(exposure.txt)), new Date(arrival));
    } else {
      await recordFile(database.db, file, new Date(arrival));
    }
  }
}

/** What the replaced service's handle_s3_object_created does with each file. */
async function replacedServiceWrites(exposure: Exposure): Promise<void> {
  for (const [suffix, arrival] of exposure.files) {
    const file = parseFileName(`${base(REPLACED, exposure)}-${suffix}`);
    if (file.extension === "txt" && exposure.txt !== undefined) {
      await oldServiceRecordsHeader(database.db, file.baseFilename, file.dataType, exposure.txt);
    } else if (file.extension === "jpg" || file.extension === "fits") {
      await oldServiceRecordsFile(database.db, file.baseFilename, file.dataType, file.reduction, file.extension, new Date(arrival));
    }
  }
}

/**
 * An answer with the site's rows made comparable: the archive's site and image ids replaced. The old service leaves
 * the flags it never set NULL where this archive writes false (CONTRACTS.md); both are false to the frontend.
 */
function comparable(answer: unknown, site: string): unknown {
  const text = JSON.stringify(answer, (key, value: unknown) => {
    if (key === "image_id") return undefined;
    if (key.endsWith("_exists") && value === null) return false;
    return value;
  });
  return JSON.parse(text.replaceAll(`${site}-kb001ms`, "SITE-kb001ms").replaceAll(`"${site}"`, '"SITE"')) as unknown;
}

async function expectSameAnswers(ask: (site: string) => Promise<unknown>): Promise<unknown> {
  const archive = comparable(await ask(ARCHIVE), ARCHIVE);
  const replaced = comparable(await ask(REPLACED), REPLACED);
  expect(archive).toEqual(replaced);
  return archive;
}

describe("the old read API on rows this archive wrote and rows the replaced service wrote", () => {
  beforeAll(async () => {
    for (const exposure of exposures) {
      await archiveWrites(exposure);
      await replacedServiceWrites(exposure);
    }
  });

  test("the replaced service's header scan, as re-expressed here, gives its own output for the fixtures", () => {
    for (const name of ["header_108_cards", "header_edge_cards"]) {
      const text = readFileSync(new URL(`../fixtures/${name}.txt`, import.meta.url));
      expect(scanHeaderFile(text).json).toBe(readFileSync(new URL(`../fixtures/${name}.ptr_data.json`, import.meta.url), "utf8"));
    }
  });

  test("the header column is the same text", async () => {
    const headers = await database.db.selectFrom("images").select(["base_filename", "header"]).execute();
    const byBase = new Map(headers.map((row) => [row.base_filename, row.header]));
    for (const exposure of exposures) expect(byBase.get(base(ARCHIVE, exposure))).toBe(byBase.get(base(REPLACED, exposure)));
  });

  test("GET /{site}/latest_images/{n}, with and without userid", async () => {
    const all = await expectSameAnswers((site) => old.latestImages(site, "20"));
    await expectSameAnswers((site) => old.latestImages(site, "2"));
    await expectSameAnswers((site) => old.latestImages(site, "20", "auth0|Vera"));
    expect((all as ImagePackage[]).map((pkg) => pkg.base_filename)).toEqual([
      "SITE-kb001ms-20230309-00000030",
      "SITE-kb001ms-20230309-00000021",
      "SITE-kb001ms-20230309-00000020",
      "SITE-kb001ms-20230309-00000013",
      "SITE-kb001ms-20230309-00000012",
      "SITE-kb001ms-20230309-00000011",
      "SITE-kb001ms-20220629-00000001",
    ]);
    expect((all as ImagePackage[])[0]).toMatchObject({ capture_date: Date.parse("2023-03-09T05:00:00Z"), fits_path: "", SMARTSTK: "" });
    expect((all as ImagePackage[]).at(-1)).toMatchObject({
      capture_date: Date.parse("2022-06-29T04:12:33.123Z"),
      right_ascension: 201.165058,
      fits_path: "sro/kb001ms/20220629/raw",
      fits_filename: "sro-kb001ms-20220629-00010442-EX00.fits",
      SMARTSTK: "no",
      SSTKNUM: "",
    });
  });

  test("GET /latest_image_all_sites", async () => {
    const archive = await old.latestImageAllSites([ARCHIVE]);
    const replaced = await old.latestImageAllSites([REPLACED]);
    expect(comparable(archive[ARCHIVE], ARCHIVE)).toEqual(comparable(replaced[REPLACED], REPLACED));
    expect(archive[ARCHIVE]).toBe("data/arc-kb001ms-20230309-00000030-EX10.jpg");
  });

  test("GET /fitsheader/{base_filename}", async () => {
    for (const exposure of exposures) await expectSameAnswers((site) => old.fitsHeader(base(site, exposure)));
    expect(await old.fitsHeader(base(ARCHIVE, exposures[1] as Exposure))).toMatchObject({ SSTKNUM: "1", EXPTIME: "30.000" });
    expect(await old.fitsHeader(`${ARCHIVE}-kb001ms-20230309-00000099`)).toBe("NoResultFound");
  });

  test("GET /image/{base_filename}, 404 (NoResultFound) without a medium jpg", async () => {
    for (const exposure of exposures) await expectSameAnswers((site) => old.image(base(site, exposure)));
    expect(await old.image(base(ARCHIVE, exposures.at(-1) as Exposure))).toBe("NoResultFound");
  });

  test("GET /filtered_images, smart stacks collapsed to their last member", async () => {
    const stacked = await expectSameAnswers((site) => old.filteredImages({ site }));
    expect((stacked as ImagePackage[]).map((pkg) => pkg.base_filename)).not.toContain("SITE-kb001ms-20230309-00000011");
    expect((stacked as ImagePackage[]).map((pkg) => pkg.base_filename)).toContain("SITE-kb001ms-20230309-00000013");
    await expectSameAnswers((site) => old.filteredImages({ site, filter: "ha" }));
    await expectSameAnswers((site) => old.filteredImages({ site, exposure_time_min: "30", exposure_time_max: "100" }));
    await expectSameAnswers((site) => old.filteredImages({ site, start_date: "2023-03-09 02:00:00", end_date: "2023-03-09 04:15:00" }));
    await expectSameAnswers((site) => old.filteredImages({ site, username: "Henrietta", user_id: "auth0|Henrietta" }));
    await expectSameAnswers((site) => old.filteredImages({ filename: `${site}-kb001ms-20230309-0000002%` }));
  });

  test("POST /downloadzip's file lists", async () => {
    const [start, end] = [Date.parse("2023-03-09T00:00:00Z") / 1000, Date.parse("2023-03-10T00:00:00Z") / 1000];
    for (const size of ["small", "large", "best"] as const) {
      await expectSameAnswers((site) => old.filesWithinDateRange(site, start, end, size));
    }
  });
});

describe("where the contract departs from the replaced service", () => {
  test("a header with RAHRS and no CRVAL1: right_ascension in degrees (RAHRS × 15), everything else the same", async () => {
    // Prepare
    const exposure: Exposure = {
      name: "kb001ms-20230309-00000040",
      txt: headerText([
        ["DATE-OBS", "2023-03-09T06:00:00"],
        "RAHRS   =                 5.5 / [hours]",
        "DEC     =               -20.25",
        ["SMARTSTK", "no"],
      ]),
      files: [["EX00.txt", "2023-03-09T06:01:00Z"], ["EX10.jpg", "2023-03-09T06:01:01Z"]],
    };
    await archiveWrites(exposure);
    await replacedServiceWrites(exposure);

    // Act
    const archive = (await old.image(base(ARCHIVE, exposure))) as ImagePackage;
    const replaced = (await old.image(base(REPLACED, exposure))) as ImagePackage;

    // Assess
    expect([archive.right_ascension, replaced.right_ascension]).toEqual([82.5, 5.5]);
    expect(comparable({ ...archive, right_ascension: 0 }, ARCHIVE)).toEqual(comparable({ ...replaced, right_ascension: 0 }, REPLACED));
  });

  test("a row in this archive's former form (typed header) breaks filtered_images; the migration mends it", async () => {
    // Prepare: a smart-stack member as this archive wrote it before: SSTKNUM a JSON number
    const site = "frm";
    await sql`
      INSERT INTO images (base_filename, site, data_type, header, right_ascension, capture_date, sort_date,
                          fits_01_exists, fits_10_exists, jpg_medium_exists, jpg_small_exists)
      VALUES (${`${site}-kb001ms-20230309-00000050`}, ${site}, 'EX', ${'{"SMARTSTK":"1700","SSTKNUM":2,"CRVAL1":150}'}, 10,
              '2023-03-09 07:00:00', '2023-03-09 07:00:00', false, false, true, false)
    `.execute(database.db);
    const before = await old.filteredImages({ site }).catch((error: unknown) => error);

    // Act
    await contractRows.up(database.db);

    // Assess
    expect(before).toEqual(new PythonError("AttributeError: 'number' object has no attribute 'isdigit'"));
    expect(await old.filteredImages({ site })).toEqual([
      expect.objectContaining({ SMARTSTK: "1700", SSTKNUM: "2", right_ascension: 150 }),
    ]);
  });
});
