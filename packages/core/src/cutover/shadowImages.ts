import { sql, type Kysely } from "kysely";
import { FILE_FLAG_COLUMNS, IDENTITY_COLUMNS, RETURNED_HEADER_COLUMNS, type Database } from "../exposures/imagesTable";
import {
  mapDifferences,
  parseHeaderObject,
  PRESENCE,
  sameNumber,
  sameValue,
  type Difference,
  type Tolerances,
} from "./differences";

/**
 * The `images` rows of the live schema (the running system's writes) beside those of the shadow schema (the archive's,
 * in shadow mode), for the exposures captured since a time: the contract's columns (CONTRACTS.md, "The images
 * table"), a NULL flag read as false (the old service leaves the flags it does not set NULL), the header compared
 * card by card as parsed JSON, the right ascension within a tolerance.
 */
export const COMPARED_COLUMNS = [
  ...IDENTITY_COLUMNS.filter((column) => column !== "base_filename"),
  ...RETURNED_HEADER_COLUMNS,
  ...FILE_FLAG_COLUMNS,
] as const;

type ComparedColumn = (typeof COMPARED_COLUMNS)[number];
type ComparedRow = { image_id: number; base_filename: string } & Record<ComparedColumn, unknown>;

const FLAGS: ReadonlySet<string> = new Set(FILE_FLAG_COLUMNS);
const SELECTION = [
  "image_id" as const,
  "base_filename" as const,
  ...COMPARED_COLUMNS.map((column) => (FLAGS.has(column) ? sql<boolean>`coalesce(${sql.ref(column)}, false)`.as(column) : column)),
];

/** Rows are read this many base filenames at a time. */
const CHUNK = 500;

export interface ImageSchemas {
  live: string;
  shadow: string;
}

async function baseFilenamesSince(db: Kysely<Database>, schema: string, since: Date): Promise<string[]> {
  const rows = await db.withSchema(schema).selectFrom("images").select("base_filename").where("capture_date", ">=", since).execute();
  return rows.map((row) => row.base_filename);
}

/** The rows of these base filenames, oldest row first (the live table may hold more than one per name). */
async function rowsOf(db: Kysely<Database>, schema: string, names: readonly string[]): Promise<Map<string, ComparedRow[]>> {
  const rows = new Map<string, ComparedRow[]>();
  for (let start = 0; start < names.length; start += CHUNK) {
    const chunk = names.slice(start, start + CHUNK);
    const found = await db
      .withSchema(schema)
      .selectFrom("images")
      .select(SELECTION)
      .where("base_filename", "in", chunk)
      .orderBy("image_id")
      .$castTo<ComparedRow>()
      .execute();
    for (const row of found) rows.set(row.base_filename, [...(rows.get(row.base_filename) ?? []), row]);
  }
  return rows;
}

function compareDates(live: unknown, shadow: unknown, toleranceMs: number): boolean {
  if (live instanceof Date && shadow instanceof Date) return Math.abs(live.getTime() - shadow.getTime()) <= toleranceMs;
  return sameValue(live, shadow);
}

/** The shadow row's header has no CRVAL1 but RAHRS: the old service stored hours there, the contract asks for degrees. */
function isRightAscensionInHours(live: unknown, shadow: unknown, shadowHeader: Record<string, unknown> | undefined, tolerance: number) {
  return (
    typeof live === "number" &&
    typeof shadow === "number" &&
    shadowHeader !== undefined &&
    !("CRVAL1" in shadowHeader) &&
    "RAHRS" in shadowHeader &&
    sameNumber(live * 15, shadow, tolerance * 15)
  );
}

function compareRows(key: string, live: ComparedRow, shadow: ComparedRow, tolerances: Tolerances): Difference[] {
  const base = { table: "images" as const, key };
  const differences: Difference[] = [];
  const liveHeader = parseHeaderObject(live.header);
  const shadowHeader = parseHeaderObject(shadow.header);
  for (const column of COMPARED_COLUMNS) {
    const [a, b] = [live[column], shadow[column]];
    if (column === "header") {
      if (liveHeader && shadowHeader) differences.push(...mapDifferences(base, "header", liveHeader, shadowHeader));
      else if (!sameValue(a, b)) differences.push({ ...base, field: column, live: a, shadow: b });
      continue;
    }
    if (column === "capture_date" || column === "sort_date") {
      if (!compareDates(a, b, tolerances.dateMs)) differences.push({ ...base, field: column, live: a, shadow: b });
      continue;
    }
    if (column === "right_ascension" && typeof a === "number" && typeof b === "number" && sameNumber(a, b, tolerances.raDegrees)) continue;
    if (column === "right_ascension" && isRightAscensionInHours(a, b, shadowHeader, tolerances.raDegrees)) {
      differences.push({ ...base, field: column, live: a, shadow: b, explanation: "live holds hours (RAHRS, no CRVAL1); the contract stores degrees" });
      continue;
    }
    if (!sameValue(a, b)) differences.push({ ...base, field: column, live: a, shadow: b });
  }
  return differences;
}

/** Every difference between the live and the shadow rows of the exposures either side captured since `since`. */
export async function compareImages(
  db: Kysely<Database>,
  schemas: ImageSchemas,
  since: Date,
  tolerances: Tolerances,
): Promise<{ compared: number; differences: Difference[] }> {
  const [liveNames, shadowNames] = await Promise.all([baseFilenamesSince(db, schemas.live, since), baseFilenamesSince(db, schemas.shadow, since)]);
  const names = [...new Set([...liveNames, ...shadowNames])].sort();
  const [liveRows, shadowRows] = await Promise.all([rowsOf(db, schemas.live, names), rowsOf(db, schemas.shadow, names)]);
  const differences: Difference[] = [];
  for (const name of names) {
    const live = liveRows.get(name) ?? [];
    const shadow = shadowRows.get(name) ?? [];
    const lastLive = live.at(-1);
    const lastShadow = shadow.at(-1);
    if (lastLive === undefined || lastShadow === undefined) {
      const count = (rows: readonly ComparedRow[]) => (rows.length > 0 ? rows.length : undefined);
      differences.push({ table: "images", key: name, field: PRESENCE.row, live: count(live), shadow: count(shadow) });
      continue;
    }
    if (live.length > 1) {
      differences.push({
        table: "images",
        key: name,
        field: "(rows)",
        live: live.length,
        shadow: shadow.length,
        explanation: "the live table has no unique key; the archive keeps one row per base filename (the newest live row is compared)",
      });
    }
    differences.push(...compareRows(name, lastLive, lastShadow, tolerances));
  }
  return { compared: names.length, differences };
}
