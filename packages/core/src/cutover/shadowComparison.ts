import { RETENTION } from "../deliveries/retention";
import type { ArchiveContext } from "../platform/context";
import { epochSeconds } from "../platform/dynamo";
import { InvalidInputError } from "../platform/errors";
import { DEFAULT_TOLERANCES, showValue, summarize, type Difference, type TableSummary, type Tolerances } from "./differences";
import { compareImages, type ImageSchemas } from "./shadowImages";
import { compareExpirations, compareInfoImages, compareUploadLogs, type TablePair } from "./shadowItems";

/**
 * The shadow comparison (`npm run compare`): while a stage runs in shadow mode, everything the running system wrote
 * since a time (the live `images` rows and its three DynamoDB tables) beside what the archive wrote for the same
 * events (the shadow schema and tables). Every difference is reported; those CONTRACTS.md asks for are listed apart
 * with the reason and do not fail the comparison.
 */
export interface ShadowTables {
  uploadLog: TablePair;
  infoImages: TablePair;
  expirations: TablePair;
  schemas: ImageSchemas;
}

export interface ComparisonOptions {
  since: Date;
  now: Date;
  tolerances?: Partial<Tolerances>;
}

export interface ShadowComparison {
  since: Date;
  now: Date;
  tolerances: Tolerances;
  tables: TableSummary[];
  /** The differences that fail the comparison. */
  differences: Difference[];
  /** The differences the contract asks for. */
  explained: Difference[];
  /** What the comparison could not cover. */
  notes: string[];
}

export async function compareShadow(
  ctx: Pick<ArchiveContext, "db" | "dynamo">,
  targets: ShadowTables,
  options: ComparisonOptions,
): Promise<ShadowComparison> {
  const tolerances = { ...DEFAULT_TOLERANCES, ...options.tolerances };
  const [sinceSeconds, nowSeconds] = [epochSeconds(options.since), epochSeconds(options.now)];
  const [images, uploads] = await Promise.all([
    compareImages(ctx.db, targets.schemas, options.since, tolerances),
    compareUploadLogs(ctx, targets.uploadLog, sinceSeconds, tolerances),
  ]);
  const [expirations, infoImages] = await Promise.all([
    compareExpirations(ctx, targets.expirations, uploads.arrivals, nowSeconds, tolerances),
    compareInfoImages(ctx, targets.infoImages, uploads.arrivals, nowSeconds, tolerances),
  ]);
  const all = [...images.differences, ...uploads.differences, ...infoImages.differences, ...expirations.differences];
  const notes =
    options.now.getTime() - options.since.getTime() > RETENTION.uploadLogHours * 3600_000
      ? [`the upload logs keep ${RETENTION.uploadLogHours} h: DynamoDB items of older arrivals are not compared`]
      : [];
  return {
    since: options.since,
    now: options.now,
    tolerances,
    tables: [
      summarize("images", images.compared, all),
      summarize("recent-uploads-log", uploads.compared, all),
      summarize("info-images", infoImages.compared, all),
      summarize("data-expiration-tracker", expirations.compared, all),
    ],
    differences: all.filter((difference) => difference.explanation === undefined),
    explained: all.filter((difference) => difference.explanation !== undefined),
    notes,
  };
}

const UNITS_MS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `--since`: a duration back from now (`24h`, `90m`, `2d`, `3600s`) or an ISO 8601 time. */
export function parseSince(text: string, now: Date): Date {
  const duration = /^(\d+(?:\.\d+)?)([smhd])$/.exec(text.trim());
  if (duration) return new Date(now.getTime() - Number(duration[1]) * (UNITS_MS[duration[2] ?? "h"] ?? 0));
  const time = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(time)) throw new InvalidInputError(`--since must be a duration such as 24h, 90m or 2d, or an ISO time; got ${JSON.stringify(text)}`, "since");
  return new Date(time);
}

function differenceLine(difference: Difference): string {
  const values = `live=${showValue(difference.live)}  shadow=${showValue(difference.shadow)}`;
  const reason = difference.explanation ? `  (${difference.explanation})` : "";
  return `${difference.table}  ${difference.key}  ${difference.field}  ${values}${reason}`;
}

/** The summary (a row per table), then every difference, one a line, then the verdict. */
export function formatShadowComparison(result: ShadowComparison): string {
  const header = ["TABLE", "COMPARED", "DIFFERING", "ONLY LIVE", "ONLY SHADOW"];
  const rows = result.tables.map((t) => [t.table, t.compared, t.differing, t.onlyLive, t.onlyShadow].map(String));
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i]?.length ?? 0)));
  const line = (cells: string[]) => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join("  ");
  const { raDegrees, dateMs, itemSeconds } = result.tolerances;
  return [
    `shadow comparison: live vs shadow since ${result.since.toISOString()} (until ${result.now.toISOString()})`,
    `tolerances: right ascension ${raDegrees}°, row dates ${dateMs} ms, item times ${itemSeconds} s`,
    ...result.notes.map((note) => `note: ${note}`),
    "",
    line(header),
    ...rows.map(line),
    "",
    ...(result.differences.length > 0 ? [`differences (${result.differences.length}):`, ...result.differences.map(differenceLine), ""] : []),
    ...(result.explained.length > 0
      ? [`differences the contract asks for (${result.explained.length}, not counted):`, ...result.explained.map(differenceLine), ""]
      : []),
    result.differences.length === 0
      ? "SAME: no differences"
      : `DIFFERENT: ${result.differences.length} difference${result.differences.length === 1 ? "" : "s"}`,
  ].join("\n");
}
