import { sql, type Kysely, type RawBuilder } from "kysely";
import { assertSiteName, isCalendarDate } from "../names/fileName";
import type { ArchiveContext } from "../platform/context";
import { InvalidInputError } from "../platform/errors";
import { MetricUnit } from "../platform/logger";
import { EVERY_SITE } from "./imageQueries";
import type { Database } from "./imagesTable";

/**
 * Counter gaps: the 8-digit counter of a base filename (`{site}-{instrument}-{YYYYMMDD}-{counter}`) runs per site and
 * instrument, so a missing number between the lowest and highest of a day is an exposure the site took and the archive
 * never received (or a counter the camera skipped: the list is for a person to judge).
 */
export interface CounterRange {
  from: number;
  to: number;
}

export interface InstrumentGaps {
  instrument: string;
  /** The lowest and highest counter of the day. */
  first: number;
  last: number;
  /** Exposures of the day the archive holds (distinct counters). */
  exposures: number;
  /** Counters between first and last that no exposure has, as inclusive ranges, in order. */
  missing: CounterRange[];
}

export interface SiteGaps {
  site: string;
  day: string;
  instruments: InstrumentGaps[];
}

/** The metric the daily count publishes: missing exposures of the previous UTC day, dimension `site`. */
export const COUNTER_GAPS_METRIC = "CounterGaps";

/** A day as file names carry it (YYYYMMDD, a calendar date), as a route or command gives it; bad input naming the field otherwise. */
export function assertObservingDay(day: string, field = "day"): string {
  if (!/^\d{8}$/.test(day)) throw new InvalidInputError(`${field} must be 8 digits, YYYYMMDD, got ${JSON.stringify(day)}`, field);
  if (!isCalendarDate(day)) throw new InvalidInputError(`${field} must be a calendar date, YYYYMMDD, got ${JSON.stringify(day)}`, field);
  return day;
}

const DAY_MS = 86_400_000;

/** The UTC day before `now`, as YYYYMMDD: what the daily count looks at. */
export function previousUtcDay(now: Date): string {
  return new Date(now.getTime() - DAY_MS).toISOString().slice(0, 10).replaceAll("-", "");
}

/** Exposures missing from one instrument's day. */
export function missingOf(instrument: Pick<InstrumentGaps, "missing">): number {
  return instrument.missing.reduce((sum, range) => sum + range.to - range.from + 1, 0);
}

/** Exposures missing from one site's day, all instruments together. */
export function missingExposures(gaps: SiteGaps): number {
  return gaps.instruments.reduce((total, instrument) => total + missingOf(instrument), 0);
}

/** One site's gaps of a day, per instrument; no instruments when the archive holds none of that day. */
export async function counterGaps(db: Kysely<Database>, site: string, day: string): Promise<SiteGaps> {
  const rows = await gapRows(db, sql`sites(site) AS (SELECT ${assertSiteName(site)}::text)`, day);
  return { site, day, instruments: rows.map(toInstrumentGaps) };
}

/** Every site that has exposures of the day, with its gaps. */
export async function counterGapsOfEverySite(db: Kysely<Database>, day: string): Promise<SiteGaps[]> {
  const bySite = new Map<string, SiteGaps>();
  for (const row of await gapRows(db, EVERY_SITE, day)) {
    const gaps = bySite.get(row.site) ?? { site: row.site, day, instruments: [] };
    gaps.instruments.push(toInstrumentGaps(row));
    bySite.set(row.site, gaps);
  }
  return [...bySite.values()];
}

export interface CounterGapsCount {
  day: string;
  sites: { site: string; missing: number }[];
}

/**
 * The daily count: for the previous UTC day, the missing exposures of each site that has any exposure that day,
 * published as COUNTER_GAPS_METRIC with the site as dimension (0 too, so every site's series is continuous), and their
 * total without it (flushed with the invocation's metrics).
 */
export async function publishCounterGaps(ctx: Pick<ArchiveContext, "db" | "metrics" | "log">, now: Date): Promise<CounterGapsCount> {
  const day = previousUtcDay(now);
  const sites = (await counterGapsOfEverySite(ctx.db, day)).map((gaps) => ({ site: gaps.site, missing: missingExposures(gaps) }));
  for (const { site, missing } of sites) {
    // A single metric is published at once with its own dimension; the function's other metrics keep theirs.
    const metric = ctx.metrics.singleMetric();
    metric.addDimension("site", site);
    metric.addMetric(COUNTER_GAPS_METRIC, MetricUnit.Count, missing);
  }
  const total = sites.reduce((sum, counted) => sum + counted.missing, 0);
  // The network's total, with the function's own dimensions only.
  ctx.metrics.addMetric(COUNTER_GAPS_METRIC, MetricUnit.Count, total);
  ctx.log.info("counter gaps counted", { day, sites: sites.length, missing: total });
  return { day, sites };
}

interface GapRow {
  site: string;
  instrument: string;
  first: number;
  last: number;
  exposures: number;
  missing: CounterRange[];
}

function toInstrumentGaps({ instrument, first, last, exposures, missing }: GapRow): InstrumentGaps {
  // jsonb orders an object's keys shortest first; answers read "from" then "to".
  return { instrument, first, last, exposures, missing: missing.map(({ from, to }) => ({ from, to })) };
}

/**
 * The gaps of a day for the sites of a `sites(site)` CTE, one statement. Which rows: `images` has a unique index on
 * base_filename, whose only usable prefix for `LIKE 'site-%-YYYYMMDD-%'` is `site-` (every row of the site, and only
 * with a C collation or text_pattern_ops, which it is not built with), and (site, capture_date)
 * (images_site_capture_date_idx). The name's day lies within a day of the exposure's capture time whatever the site's
 * time zone, so a range scan of that index over [day − 1, day + 2) reads three nights of one site, and the name's own
 * pattern keeps that day's. A row dated by its files' arrival (no header yet) more than a day late falls outside and
 * is reported missing: the list errs towards asking.
 */
async function gapRows(db: Kysely<Database>, sites: RawBuilder<unknown>, day: string): Promise<GapRow[]> {
  // Checked to be 8 digits, so the pattern holds nothing of the caller's but those digits.
  const namesOfDay = `^[A-Za-z0-9]{3,6}-[A-Za-z0-9_]+-${assertObservingDay(day)}-[0-9]{8}$`;
  const dayStart = Date.UTC(Number(day.slice(0, 4)), Number(day.slice(4, 6)) - 1, Number(day.slice(6, 8)));
  const from = new Date(dayStart - DAY_MS);
  const to = new Date(dayStart + 2 * DAY_MS);
  const result = await sql<GapRow>`
    WITH RECURSIVE ${sites},
    counters AS (
      SELECT DISTINCT named.site, split_part(named.base_filename, '-', 2) AS instrument,
        right(named.base_filename, 8)::int AS counter
      FROM sites CROSS JOIN LATERAL (
        SELECT images.site, images.base_filename FROM images
        WHERE images.site = sites.site AND images.capture_date >= ${from} AND images.capture_date < ${to}
          AND images.base_filename ~ ${namesOfDay} AND split_part(images.base_filename, '-', 1) = images.site
      ) AS named
    ),
    steps AS (
      SELECT site, instrument, counter, lag(counter) OVER (PARTITION BY site, instrument ORDER BY counter) AS previous
      FROM counters
    )
    SELECT site, instrument, min(counter) AS first, max(counter) AS last, count(*)::int AS exposures,
      coalesce(
        jsonb_agg(jsonb_build_object('from', previous + 1, 'to', counter - 1) ORDER BY counter) FILTER (WHERE counter > previous + 1),
        '[]'::jsonb
      ) AS missing
    FROM steps
    GROUP BY site, instrument
    ORDER BY site, instrument
  `.execute(db);
  return result.rows;
}
