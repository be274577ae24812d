import { sql, type Kysely } from "kysely";
import type { Database } from "@archive/core/exposures/imagesTable";

/**
 * The replaced service (LCOGT/ptr_data at a267d1f, lambda_service/) as it writes the shared `images` table, re-expressed
 * from its Python so tests can put its rows next to this archive's: production's table shape (its model and README),
 * its header scan (helpers.scan_header_file) and its two writes (db.update_header_data, db.update_new_image), as the
 * SQL SQLAlchemy sends for them, every value bound as the string or number Python held.
 */

/** The table as production has it: nullable flags without defaults, varchar(29) names, no unique key. */
export async function createProductionImagesTable(db: Kysely<Database>): Promise<void> {
  await sql`
    CREATE TABLE images (
      image_id serial PRIMARY KEY,
      base_filename varchar(29),
      site varchar(6),
      capture_date timestamp without time zone,
      sort_date timestamp without time zone,
      right_ascension double precision,
      declination double precision,
      altitude double precision,
      azimuth double precision,
      header varchar,
      filter_used varchar,
      airmass double precision,
      exposure_time double precision,
      user_id varchar,
      username varchar,
      fits_01_exists boolean,
      fits_10_exists boolean,
      jpg_medium_exists boolean,
      jpg_small_exists boolean,
      data_type varchar
    )
  `.execute(db);
}

/**
 * scan_header_file, line for line: 80-byte chunks of the file (no newline handling), keyword = columns 1–8 stripped,
 * value from `line[10:-1]`: inside the first quotes when a quote precedes any '/', else before the first '/', stripped;
 * a dict (insertion order, the last value of a repeated key), stopping after END; `JSON` = json.dumps of it.
 */
export function scanHeaderFile(contents: Uint8Array): { values: Map<string, string>; json: string } {
  const values = new Map<string, string>();
  for (let i = 0; i < contents.length; i += 80) {
    const line = Buffer.from(contents.subarray(i, i + 80)).toString("utf8");
    const attribute = line.slice(0, 8).trim();
    const afterAttribute = line.slice(10, -1);
    const beforeComment = afterAttribute.split("/")[0] ?? "";
    const value = beforeComment.includes("'") ? (afterAttribute.split("'")[1] ?? "").trim() : beforeComment.trim();
    values.set(attribute, value);
    if (attribute === "END") break;
  }
  return { values, json: jsonDumps(values) };
}

/** Python's json.dumps of a dict of strings: ", " and ": " separators, ensure_ascii. */
function jsonDumps(values: ReadonlyMap<string, string>): string {
  const text = (s: string) =>
    JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  return `{${[...values].map(([key, value]) => `${text(key)}: ${text(value)}`).join(", ")}}`;
}

/** A UTC instant as Python's datetime.utcnow() / str(datetime) hands it to psycopg2: 'YYYY-MM-DD HH:MM:SS.ffffff'. */
function pythonTimestamp(date: Date): string {
  return date.toISOString().replace("T", " ").replace("Z", "000");
}

async function rowExists(db: Kysely<Database>, baseFilename: string): Promise<boolean> {
  const result = await sql<{ image_id: number }>`
    SELECT images.image_id FROM images WHERE images.base_filename = ${baseFilename}
  `.execute(db);
  return result.rows.length > 0;
}

/**
 * update_header_data after scan_header_file: right ascension CRVAL1 else RAHRS (as written: degrees, or hours), the
 * columns from the header's strings, DATE-OBS with 'T' → ' ' as both dates; UPDATE the row, or INSERT one.
 */
export async function oldServiceRecordsHeader(
  db: Kysely<Database>,
  baseFilename: string,
  dataType: string,
  txt: Uint8Array,
): Promise<void> {
  const { values, json } = scanHeaderFile(txt);
  const rightAscension = values.get("CRVAL1") ?? values.get("RAHRS");
  const declination = values.get("CRVAL2") ?? values.get("DEC");
  const dateObs = values.get("DATE-OBS");
  if (rightAscension === undefined || declination === undefined || dateObs === undefined) {
    throw new Error("the replaced service raises on a header without CRVAL1/RAHRS, CRVAL2/DEC or DATE-OBS");
  }
  const updates = {
    header: json,
    right_ascension: rightAscension,
    declination,
    altitude: values.get("ALTITUDE") ?? null,
    azimuth: values.get("AZIMUTH") ?? null,
    filter_used: values.get("FILTER") ?? null,
    airmass: values.get("AIRMASS") ?? null,
    exposure_time: values.get("EXPTIME") ?? null,
    user_id: values.get("USERID") ?? null,
    username: values.get("USERNAME") ?? null,
    data_type: dataType,
    capture_date: dateObs.replace(/T/g, " "),
    sort_date: dateObs.replace(/T/g, " "),
  };
  if (await rowExists(db, baseFilename)) {
    const sets = Object.entries(updates).map(([column, value]) => sql`${sql.ref(column)}=${value}`);
    await sql`UPDATE images SET ${sql.join(sets)} WHERE images.base_filename = ${baseFilename}`.execute(db);
  } else {
    const row = { ...updates, base_filename: baseFilename, site: baseFilename.split("-")[0] ?? null };
    await sql`
      INSERT INTO images (${sql.join(Object.keys(row).map((column) => sql.ref(column)))})
      VALUES (${sql.join(Object.values(row))})
    `.execute(db);
  }
}

const FLAG_OF_FILE: Readonly<Record<string, string>> = {
  "jpg10": "jpg_medium_exists",
  "jpg13": "jpg_medium_exists",
  "jpg11": "jpg_small_exists",
  "fits00": "fits_01_exists",
  "fits01": "fits_01_exists",
  "fits10": "fits_10_exists",
  "fits13": "fits_10_exists",
};

/**
 * update_new_image: sets the file's flag and data_type on the row, or INSERTs a row with only those (the other flags
 * NULL) dated by the model's default, datetime.utcnow() — `now`, the time the service ran.
 */
export async function oldServiceRecordsFile(
  db: Kysely<Database>,
  baseFilename: string,
  dataType: string,
  reduction: string,
  fileType: "jpg" | "fits",
  now: Date,
): Promise<void> {
  const flag = FLAG_OF_FILE[`${fileType}${reduction}`];
  if (flag === undefined) return;
  if (await rowExists(db, baseFilename)) {
    await sql`
      UPDATE images SET ${sql.ref(flag)}=${true}, data_type=${dataType} WHERE images.base_filename = ${baseFilename}
    `.execute(db);
  } else {
    const utcnow = pythonTimestamp(now);
    await sql`
      INSERT INTO images (base_filename, data_type, site, capture_date, sort_date, ${sql.ref(flag)})
      VALUES (${baseFilename}, ${dataType}, ${baseFilename.split("-")[0] ?? null}, ${utcnow}, ${utcnow}, ${true})
    `.execute(db);
  }
}
