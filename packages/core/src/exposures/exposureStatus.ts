import { CompiledQuery, sql, type Kysely } from "kysely";
import { assertSiteName, fileFlagColumn, parseBaseFilename, type ArchiveFileName } from "../names/fileName";
import type { ArchiveContext } from "../platform/context";
import { NotFoundError } from "../platform/errors";
import { MetricUnit } from "../platform/logger";
import type { Database } from "./imagesTable";

/**
 * Exposure status: what of an exposure has arrived and when, one `exposure_status` row per base filename. An upload
 * request with a header announces it, its first file makes it receiving, and it is complete once every file its site
 * expects (`expected_files`, per site and data type, `*` a wildcard, the most specific wins) is there. Not complete
 * STUCK_AFTER_MINUTES after it was first seen, it is stuck. Each write is one INSERT … ON CONFLICT, so files arriving
 * in any order, repeated or concurrent, end in the same row, and complete_at is set by the statement itself.
 */

/** The kinds of file an exposure has, as `expected_files` names them. */
export const FILE_KINDS = ["header", "jpg_medium", "jpg_small", "fits_small", "fits_large"] as const;
export type FileKind = (typeof FILE_KINDS)[number];

const KIND_OF_FLAG = {
  jpg_medium_exists: "jpg_medium",
  jpg_small_exists: "jpg_small",
  fits_10_exists: "fits_small",
  fits_01_exists: "fits_large",
} as const satisfies Record<NonNullable<ReturnType<typeof fileFlagColumn>>, FileKind>;

/** The kind of a file: a .txt is the header, jpgs and FITS by reduction (as the images flags); others have none. */
export function fileKindOf(file: Pick<ArchiveFileName, "extension" | "reduction">): FileKind | null {
  if (file.extension === "txt") return "header";
  const flag = fileFlagColumn(file);
  return flag === null ? null : KIND_OF_FLAG[flag];
}

export type ExposureState = "announced" | "receiving" | "complete";

export interface ExposureStatus {
  base_filename: string;
  site: string;
  instrument: string;
  data_type: string | null;
  status: ExposureState;
  /** Not complete STUCK_AFTER_MINUTES after it was first seen (announced or its first file). */
  stuck: boolean;
  files: string[];
  expected: string[];
  missing: string[];
  /** The time of each step, ISO 8601; null for a step not reached. */
  announced_at: string | null;
  receiving_at: string | null;
  complete_at: string | null;
  /** When the exposure-archived event was published. */
  archived_at: string | null;
  /** The medium jpg the archive made from a FITS file (previews/), when the site sent none in time. */
  generated_preview: { source_key: string; generated_at: string } | null;
}

interface StatusRow {
  base_filename: string;
  site: string;
  instrument: string;
  data_type: string | null;
  files: string[];
  expected: string[];
  first_seen_at: Date;
  announced_at: Date | null;
  receiving_at: Date | null;
  complete_at: Date | null;
  archived_at: Date | null;
  preview_source_key: string | null;
  preview_generated_at: Date | null;
}

// The expected set of the row's site and data type: the most specific entry, the default when the table has none.
const EXPECTED = `coalesce((
  SELECT e.files FROM expected_files e WHERE e.site IN ($2::text, '*') AND e.data_type IN ($4::text, '*')
  ORDER BY e.site = '*', e.data_type = '*' LIMIT 1
), ARRAY['header', 'jpg_medium', 'fits_small'])`;

// One statement per file, compiled once: $1 base, $2 site, $3 instrument, $4 data type, $5 the file's kind (or
// NULL), $6 its arrival, $7 its object key. Kinds and keys are sets, appended only when new (no sort: reads sort);
// complete_at is the arrival that covered the expected set.
const RECORD_ARRIVAL = `
  INSERT INTO exposure_status AS s (base_filename, site, instrument, data_type, files, object_keys, expected, first_seen_at, receiving_at, complete_at)
  SELECT $1, $2, $3, $4, f.files, ARRAY[$7::text], x.expected, $6::timestamptz, $6::timestamptz,
    CASE WHEN x.expected <@ f.files THEN $6::timestamptz END
  FROM (SELECT CASE WHEN $5::text IS NULL THEN '{}'::text[] ELSE ARRAY[$5::text] END AS files) f,
    (SELECT ${EXPECTED} AS expected) x
  ON CONFLICT (base_filename) DO UPDATE SET
    data_type = excluded.data_type,
    expected = excluded.expected,
    files = CASE WHEN excluded.files <@ s.files THEN s.files ELSE s.files || excluded.files END,
    object_keys = CASE WHEN excluded.object_keys <@ s.object_keys THEN s.object_keys ELSE s.object_keys || excluded.object_keys END,
    first_seen_at = least(s.first_seen_at, excluded.first_seen_at),
    receiving_at = least(s.receiving_at, excluded.receiving_at),
    complete_at = coalesce(s.complete_at, CASE WHEN excluded.expected <@ (s.files || excluded.files) THEN excluded.receiving_at END)
  RETURNING complete_at IS NOT NULL AND archived_at IS NULL AS unarchived
`;

const RECORD_ANNOUNCEMENT = `
  INSERT INTO exposure_status AS s (base_filename, site, instrument, data_type, expected, first_seen_at, announced_at)
  SELECT $1, $2, $3, $4, ${EXPECTED}, $5::timestamptz, $5::timestamptz
  ON CONFLICT (base_filename) DO UPDATE SET
    first_seen_at = least(s.first_seen_at, excluded.first_seen_at),
    announced_at = least(s.announced_at, excluded.announced_at)
`;

type ExposureFile = Pick<ArchiveFileName, "baseFilename" | "site" | "instrument" | "dataType" | "extension" | "reduction">;
type StoredFile = ExposureFile & { key: string };

/**
 * Records a file's arrival on the exposure's status (in the transaction of its `images` row); true when the exposure
 * is complete and its archived event not yet published, so the caller publishes it once the record is committed.
 */
export async function recordArrival(db: Kysely<Database>, file: StoredFile, arrivedAt: Date): Promise<boolean> {
  const values = [file.baseFilename, file.site, file.instrument, file.dataType, fileKindOf(file), arrivedAt, file.key];
  const result = await db.executeQuery<{ unarchived: boolean }>(CompiledQuery.raw(RECORD_ARRIVAL, values));
  return result.rows[0]?.unarchived === true;
}

/** Records an upload request with a header: the exposure is announced (the earliest request's time is kept). */
export async function recordAnnouncement(db: Kysely<Database>, file: ExposureFile, requestedAt: Date): Promise<void> {
  await db.executeQuery(CompiledQuery.raw(RECORD_ANNOUNCEMENT, [file.baseFilename, file.site, file.instrument, file.dataType, requestedAt]));
}

const STATUS_COLUMNS = sql`s.base_filename, s.site, s.instrument, s.data_type, s.files, s.expected, s.first_seen_at,
  s.announced_at, s.receiving_at, s.complete_at, s.archived_at, p.source_key AS preview_source_key,
  p.generated_at AS preview_generated_at`;
/** The status rows with the preview generated for them, if any. */
const STATUS_ROWS = sql`exposure_status s LEFT JOIN generated_previews p ON p.base_filename = s.base_filename`;

const minutesAgo = (now: Date, minutes: number) => new Date(now.getTime() - minutes * 60_000);

function toStatus(row: StatusRow, stuckBefore: Date): ExposureStatus {
  const iso = (date: Date | null) => date?.toISOString() ?? null;
  const status: ExposureState = row.complete_at ? "complete" : row.receiving_at ? "receiving" : "announced";
  return {
    base_filename: row.base_filename,
    site: row.site,
    instrument: row.instrument,
    data_type: row.data_type,
    status,
    stuck: status !== "complete" && row.first_seen_at < stuckBefore,
    files: [...row.files].sort(),
    expected: row.expected,
    missing: row.expected.filter((kind) => !row.files.includes(kind)),
    announced_at: iso(row.announced_at),
    receiving_at: iso(row.receiving_at),
    complete_at: iso(row.complete_at),
    archived_at: iso(row.archived_at),
    generated_preview:
      row.preview_source_key && row.preview_generated_at
        ? { source_key: row.preview_source_key, generated_at: row.preview_generated_at.toISOString() }
        : null,
  };
}

type StatusContext = Pick<ArchiveContext, "db" | "config" | "clock">;

/** One exposure's status; NotFoundError when the archive has neither an announcement nor a file of it. */
export async function exposureStatus(ctx: StatusContext, baseFilename: string): Promise<ExposureStatus> {
  parseBaseFilename(baseFilename);
  const result = await sql<StatusRow>`SELECT ${STATUS_COLUMNS} FROM ${STATUS_ROWS} WHERE s.base_filename = ${baseFilename}`.execute(ctx.db);
  const [row] = result.rows;
  if (!row) {
    throw new NotFoundError(`no exposure ${baseFilename}: the archive has neither an upload request with its header nor any of its files`);
  }
  return toStatus(row, minutesAgo(ctx.clock(), ctx.config.STUCK_AFTER_MINUTES));
}

/** At most this many stuck exposures are listed at once (the oldest). */
export const MAX_STUCK_LISTED = 1000;

/** Stuck exposures, of one site or all, oldest first (the partial index on incomplete rows serves both). */
export async function stuckExposures(ctx: StatusContext, site?: string): Promise<ExposureStatus[]> {
  const stuckBefore = minutesAgo(ctx.clock(), ctx.config.STUCK_AFTER_MINUTES);
  const ofSite = site === undefined ? sql`` : sql`AND s.site = ${assertSiteName(site)}`;
  const result = await sql<StatusRow>`
    SELECT ${STATUS_COLUMNS} FROM ${STATUS_ROWS}
    WHERE s.complete_at IS NULL AND s.first_seen_at < ${stuckBefore} ${ofSite}
    ORDER BY s.first_seen_at, s.base_filename
    LIMIT ${MAX_STUCK_LISTED}
  `.execute(ctx.db);
  return result.rows.map((row) => toStatus(row, stuckBefore));
}

/** The metric the scheduled count publishes: stuck exposures, dimension `site`. */
export const STUCK_EXPOSURES_METRIC = "StuckExposures";

export interface StuckCount {
  sites: { site: string; stuck: number }[];
}

/**
 * The scheduled count: stuck exposures per site with any incomplete exposure (0 too, so a site's series falls back
 * to 0 when its last one completes), as STUCK_EXPOSURES_METRIC with the site as dimension, and their total without it.
 */
export async function publishStuckExposures(ctx: Pick<ArchiveContext, "db" | "config" | "clock" | "metrics" | "log">): Promise<StuckCount> {
  const stuckBefore = minutesAgo(ctx.clock(), ctx.config.STUCK_AFTER_MINUTES);
  const result = await sql<{ site: string; stuck: number }>`
    SELECT site, count(*) FILTER (WHERE first_seen_at < ${stuckBefore})::int AS stuck
    FROM exposure_status WHERE complete_at IS NULL GROUP BY site ORDER BY site
  `.execute(ctx.db);
  for (const { site, stuck } of result.rows) {
    const metric = ctx.metrics.singleMetric();
    metric.addDimension("site", site);
    metric.addMetric(STUCK_EXPOSURES_METRIC, MetricUnit.Count, stuck);
  }
  const total = result.rows.reduce((sum, row) => sum + row.stuck, 0);
  ctx.metrics.addMetric(STUCK_EXPOSURES_METRIC, MetricUnit.Count, total);
  ctx.log.info("stuck exposures counted", { sites: result.rows.length, stuck: total });
  return { sites: result.rows };
}
