import { existsSync } from "node:fs";
import { readFile, statfs, writeFile } from "node:fs/promises";
import { totalmem } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import {
  DummyDriver,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  sql,
  type CompiledQuery,
} from "kysely";
import pg from "pg";
import { parseHeaderText } from "@archive/core/fits/cards";
import { headerAsWritten } from "@archive/core/fits/headerJson";
import {
  filteredImages,
  findImage,
  latestImagePerSite,
  latestSiteImages,
  type ImageFilters,
} from "@archive/core/exposures/imageQueries";
import type { Database } from "@archive/core/exposures/imagesTable";
import { migrateToLatest } from "@archive/core/platform/migrate";
import { createDb } from "@archive/core/platform/postgres";
import { atMost, notMeasured, repeat, row, single, stats, type Row } from "./harness";
import { loadHeaderText, repoRoot } from "./inputs";
import type { BenchOptions } from "./suite";

/*
 * The read API's queries against a table of real size: a fresh database on BENCH_DATABASE_URL's server, migrated by the
 * archive's own migrations, filled with BENCH_READS_ROWS rows (default 1,000,000) shaped like production's, then the
 * real query functions of exposures/imageQueries.ts timed, and EXPLAIN (ANALYZE, BUFFERS) of the SQL they send written
 * to docs/reads-explain.md (one section per row count).
 */

const DEFAULT_ROWS = 1_000_000;
const SITE_COUNT = 50;
/** Exposures per site and observed night. */
const PER_SITE_NIGHT = 300;
/** The nights are spread evenly over this many days from FIRST_NIGHT (2 years). */
const SPAN_DAYS = 730;
const FIRST_NIGHT = Date.UTC(2023, 0, 1);
/** Seconds between two exposures of one site; a night of 300 is 10 hours. */
const CADENCE_SECONDS = 120;
/** The read API's limit for GET /filtered_images (readRoutes.ts MAX_FILTERED_IMAGES). */
const NIGHT_LIMIT = 10_000;
const LATEST_COUNT = 20;
/** A read without a site is given this long, once (the read function's own timeout is 10 s). */
const UNINDEXED_TIMEOUT_MS = 60_000;
const READ_FUNCTION_TIMEOUT_MS = 10_000;
const FILTERS = ["ha", "oiii", "sii", "w", "r", "g", "i", "lum"];
const EXPOSURE_TIMES = [30, 60, 120, 180, 300];
const DOC = join(repoRoot, "docs/reads-explain.md");
/** Disk a row takes (heap, TOAST, the five indexes): 4.67 GB at 1 M rows; WAL and index builds come on top. */
const BYTES_PER_ROW = 4_700;

/** 50 site codes as the archive names sites (3–6 letters or digits). */
const SITES = [
  "sro", "mrc", "mrc2", "saf", "eco", "aro", "tst", "dht", "lsc", "cpt",
  "coj", "ogg", "elp", "tfn", "bpl", "wmd", "fvo", "rfo", "bgo", "cvo",
  "hso", "kpo", "lpo", "mdm", "mto", "nmo", "oso", "pvo", "qro", "rmo",
  "sbo", "tho", "uao", "vro", "wro", "xao", "yko", "zso", "abo", "bco",
  "cdo", "dfo", "ego", "fho", "gio", "hjo", "iko", "jlo", "kmo", "lno",
] as const;

interface Layout {
  rows: number;
  /** Nights each site observed: every SPAN_DAYS / nightsPerSite days. */
  nightsPerSite: number;
}

function layoutOf(rows: number): Layout {
  return { rows, nightsPerSite: Math.ceil(rows / (SITE_COUNT * PER_SITE_NIGHT)) };
}

/*
 * Row i (0-based) is exposure e of site `siteIndex` in night slot t: i = t·(50·300) + e·50 + siteIndex. Rows go in
 * capture order with the 50 sites interleaved, as they arrive: one site's night is spread over the table's pages, not
 * packed together. The same arithmetic is in the INSERT below and in siteNight().
 */
interface SiteNight {
  site: string;
  /** 00:00 UTC of the night's date; the night's exposures are between 01:00 and 17:00 UTC of it. */
  night: Date;
  /** The filter of its first block of exposures (one filter per 20). */
  filter: string;
}

function siteNight(layout: Layout, slot: number, siteIndex: number): SiteNight {
  const nightDays = Math.floor((slot * SPAN_DAYS) / layout.nightsPerSite);
  return {
    site: SITES[siteIndex] ?? "sro",
    night: new Date(FIRST_NIGHT + nightDays * 86_400_000),
    filter: FILTERS[(slot * SITE_COUNT + siteIndex) % FILTERS.length] ?? "ha",
  };
}

/** Night views to ask for, spread over the complete slots and the sites; deterministic. */
function siteNights(layout: Layout, count: number, offset: number): SiteNight[] {
  const fullSlots = Math.max(1, Math.floor(layout.rows / (SITE_COUNT * PER_SITE_NIGHT)));
  return Array.from({ length: count }, (_, k) => {
    const slot = (Math.floor((k * fullSlots) / count) + offset) % fullSlots;
    return siteNight(layout, slot, (k * 17 + offset) % SITE_COUNT);
  });
}

/** The base filename of row i, as the INSERT names it. */
function baseFilenameOf(layout: Layout, i: number): string {
  const perSlot = SITE_COUNT * PER_SITE_NIGHT;
  const { site, night } = siteNight(layout, Math.floor(i / perSlot), i % SITE_COUNT);
  const day = night.toISOString().slice(0, 10).replaceAll("-", "");
  return `${site}-kb001ms-${day}-${String(i).padStart(8, "0")}`;
}

const quoteLiteral = (text: string): string => `'${text.replaceAll("'", "''")}'`;

/**
 * The `header` column as the replaced service writes it (json.dumps of strings, in card order): the shared bench
 * header (108 cards, 105 keywords, ~2.4 KB) with the keywords that differ between exposures filled from the row, and
 * SSTKNUM after SMARTSTK in the smart-stack exposures. An SQL expression over the columns of `v`.
 */
function headerExpression(): string {
  const template = JSON.parse(headerAsWritten(parseHeaderText(loadHeaderText()))) as Record<string, string>;
  const varying: Record<string, string> = {
    SITEID: "v.site",
    TELESCOP: "'ptr-' || v.site || '-0m61'",
    PTRTEL: "v.site || '-0m61'",
    ORIGNAME: "v.base || '-EX00.fits'",
    DATE: "to_char(v.ts, 'YYYY-MM-DD')",
    "DATE-OBS": `to_char(v.ts, 'YYYY-MM-DD"T"HH24:MI:SS.MS')`,
    "DAY-OBS": "to_char(v.night, 'YYYYMMDD')",
    "MJD-OBS": "round((extract(epoch FROM v.ts) / 86400 + 40587)::numeric, 6)::text",
    EXPTIME: "to_char(v.exptime, 'FM9990.0')",
    EXPOSURE: "to_char(v.exptime, 'FM9990.0')",
    FILTER: "v.filter",
    OBJECT: "v.object",
    TARGNAME: "v.object",
    RA: "round((v.ra / 15)::numeric, 6)::text",
    DEC: "round(v.dec::numeric, 6)::text",
    CRVAL1: "round(v.ra::numeric, 6)::text",
    CRVAL2: "round(v.dec::numeric, 6)::text",
    ALTITUDE: "round(v.alt::numeric, 3)::text",
    AZIMUTH: "round(v.az::numeric, 3)::text",
    AIRMASS: "round(v.airmass::numeric, 4)::text",
    OBSERVER: "v.username",
    USERID: "v.user_id",
    USERNAME: "v.username",
    SMARTSTK: "v.smartstk",
  };
  const parts: string[] = [];
  let literal = "{";
  const keys = Object.keys(template);
  keys.forEach((key, index) => {
    const separator = index === keys.length - 1 ? "}" : ", ";
    const expression = varying[key];
    if (expression === undefined) {
      literal += `${JSON.stringify(key)}: ${JSON.stringify(template[key] ?? "")}${separator}`;
      return;
    }
    parts.push(quoteLiteral(`${literal}${JSON.stringify(key)}: "`), `(${expression})`);
    literal = `"`;
    if (key === "SMARTSTK") {
      parts.push(quoteLiteral(literal), `(CASE WHEN v.smart THEN ', "SSTKNUM": "' || v.sstknum || '"' ELSE '' END)`);
      literal = "";
    }
    literal += separator;
  });
  parts.push(quoteLiteral(literal));
  return parts.join(" || ");
}

/**
 * Rows [from, to) in one INSERT … SELECT generate_series. header_json is given as the header's jsonb (what the
 * trigger derives for the old service's rows) so the trigger's plpgsql (a subtransaction per row) is not run 10 M times.
 */
function insertSql(): string {
  return `
    INSERT INTO images (base_filename, site, data_type, capture_date, sort_date, right_ascension, declination, altitude,
      azimuth, header, header_json, filter_used, airmass, exposure_time, user_id, username,
      fits_01_exists, fits_10_exists, jpg_medium_exists, jpg_small_exists)
    SELECT v.base, v.site, 'EX', v.ts, v.ts, v.ra, v.dec, v.alt, v.az, h.header, h.header::jsonb, v.filter, v.airmass,
      v.exptime, v.user_id, v.username, v.fits01, true, v.jpg, v.jpg
    FROM generate_series($1::bigint, $2::bigint - 1) AS g(i)
    CROSS JOIN LATERAL (
      SELECT (g.i / ${SITE_COUNT * PER_SITE_NIGHT})::int AS t, ((g.i % ${SITE_COUNT * PER_SITE_NIGHT}) / ${SITE_COUNT})::int AS e,
        (g.i % ${SITE_COUNT})::int AS site_index, ((g.i * 2654435761) % 1000003)::int AS hash
    ) AS p
    CROSS JOIN LATERAL (
      SELECT p.t * ${SITE_COUNT} + p.site_index AS s,
        date '${new Date(FIRST_NIGHT).toISOString().slice(0, 10)}' + (p.t * ${SPAN_DAYS} / $3::int)::int AS night
    ) AS n
    CROSS JOIN LATERAL (
      SELECT ($4::text[])[1 + p.site_index] AS site, n.night::timestamp AS night,
        n.night + interval '1 hour' * (1 + (p.site_index * 7) % 6) + interval '1 second' * (p.e * ${CADENCE_SECONDS} + p.hash % 60)
          + interval '1 millisecond' * (p.hash % 1000) AS ts,
        ($5::text[])[1 + (n.s + p.e / 20) % ${FILTERS.length}] AS filter,
        ($6::float8[])[1 + (n.s + p.e / 20) % ${EXPOSURE_TIMES.length}] AS exptime,
        'M ' || (1 + (n.s * 3 + p.e / 60) % 110) AS object,
        ((n.s * 7 + p.e / 60) % 240) * 1.5 + (p.hash % 1000) / 10000.0 AS ra,
        ((n.s * 13 + p.e / 60) % 150) - 60 + (p.hash % 1000) / 10000.0 AS dec,
        20 + (p.hash % 70000) / 1000.0 AS alt,
        (p.hash % 360000) / 1000.0 AS az,
        1 + (p.hash % 1500) / 1000.0 AS airmass,
        'google-oauth2|' || (102124071738955888216::numeric + ((n.s * 31 + p.e / 100) % 300) * 7919) AS user_id,
        'Observer ' || ((n.s * 31 + p.e / 100) % 300) AS username,
        (n.s + p.e / 10) % 10 < 3 AS smart,
        CASE WHEN (n.s + p.e / 10) % 10 < 3 THEN (n.s * 30 + p.e / 10)::text ELSE 'no' END AS smartstk,
        (p.e % 10 + 1)::text AS sstknum,
        p.hash % 100 >= 3 AS jpg,
        p.hash % 10 <> 0 AS fits01,
        ($4::text[])[1 + p.site_index] || '-kb001ms-' || to_char(n.night, 'YYYYMMDD') || '-' || lpad(g.i::text, 8, '0') AS base
    ) AS v
    -- OFFSET 0 keeps the subquery from being flattened, which would build the header twice (header, header::jsonb)
    CROSS JOIN LATERAL (SELECT ${headerExpression()} AS header OFFSET 0) AS h`;
}

interface Prefill {
  insertSeconds: number;
  indexSeconds: number;
  vacuumSeconds: number;
  indexes: string[];
  /** GIN indexes left out (BENCH_READS_SKIP_GIN=1). */
  skipped: string[];
}

/**
 * The rows on 2 connections (two halves), with the table's plain indexes dropped first and rebuilt after from their
 * own definitions (pg_get_indexdef), so the schema is the migrated one; the primary key and unique constraint stay.
 */
async function prefill(url: string, layout: Layout, skipGin: boolean): Promise<Prefill> {
  const connect = async (): Promise<pg.Client> => {
    const client = newClient(url);
    await client.connect();
    await client.query("SET synchronous_commit = off");
    await client.query("SET maintenance_work_mem = '1GB'");
    return client;
  };
  const clients = [await connect(), await connect()];
  const [first, second] = clients as [pg.Client, pg.Client];
  try {
    const plain = await first.query<{ name: string; definition: string }>(
      `SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition
       FROM pg_index i
       WHERE i.indrelid = 'images'::regclass
         AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
       ORDER BY 1`,
    );
    for (const index of plain.rows) await first.query(`DROP INDEX ${index.name}`);
    progress(`dropped ${plain.rows.map((index) => index.name).join(", ")}; inserting ${layout.rows} rows`);
    const t0 = performance.now();
    const half = Math.ceil(layout.rows / 2);
    const text = insertSql();
    const ranges: [number, number][] = [
      [0, half],
      [half, layout.rows],
    ];
    await Promise.all(
      ranges.map(([from, to], k) =>
        clients[k]?.query(text, [from, to, layout.nightsPerSite, SITES, FILTERS, EXPOSURE_TIMES]),
      ),
    );
    const t1 = performance.now();
    progress(`inserted in ${((t1 - t0) / 1000).toFixed(0)} s; rebuilding the indexes`);
    // The GIN index (the longest build: ~105 entries a row, ~50 min at 10 M rows on 2 busy cores) on one connection,
    // the btrees on the other. No read measured here uses it; BENCH_READS_SKIP_GIN=1 leaves it out.
    const allGin = plain.rows.filter((index) => /USING gin/i.test(index.definition));
    const gin = skipGin ? [] : allGin;
    const btrees = plain.rows.filter((index) => !/USING gin/i.test(index.definition));
    await Promise.all([
      (async () => {
        for (const index of gin) await first.query(index.definition);
      })(),
      (async () => {
        for (const index of btrees) await second.query(index.definition);
      })(),
    ]);
    const t2 = performance.now();
    progress(`indexes rebuilt in ${((t2 - t1) / 1000).toFixed(0)} s; VACUUM ANALYZE`);
    await first.query("VACUUM ANALYZE images");
    const t3 = performance.now();
    return {
      insertSeconds: (t1 - t0) / 1000,
      indexSeconds: (t2 - t1) / 1000,
      vacuumSeconds: (t3 - t2) / 1000,
      indexes: plain.rows.map((index) => index.name),
      skipped: skipGin ? allGin.map((index) => index.name) : [],
    };
  } finally {
    await Promise.all(clients.map((client) => client.end().catch(() => undefined)));
  }
}

interface Sizes {
  rows: number;
  tableBytes: number;
  toastBytes: number;
  indexBytes: number;
  indexSizes: { name: string; bytes: number }[];
}

async function sizes(client: pg.Client): Promise<Sizes> {
  const table = await client.query<{ rows: number; heap: string; toast: string; indexes: string }>(
    `SELECT (SELECT count(*) FROM images)::int AS rows,
       pg_relation_size('images') AS heap,
       coalesce(pg_total_relation_size(nullif(reltoastrelid, 0)), 0) AS toast,
       pg_indexes_size('images') AS indexes
     FROM pg_class WHERE oid = 'images'::regclass`,
  );
  const each = await client.query<{ name: string; bytes: string }>(
    `SELECT indexrelid::regclass::text AS name, pg_relation_size(indexrelid) AS bytes
     FROM pg_index WHERE indrelid = 'images'::regclass ORDER BY 1`,
  );
  const t = table.rows[0];
  return {
    rows: t?.rows ?? 0,
    tableBytes: Number(t?.heap ?? 0),
    toastBytes: Number(t?.toast ?? 0),
    indexBytes: Number(t?.indexes ?? 0),
    indexSizes: each.rows.map((r) => ({ name: r.name, bytes: Number(r.bytes) })),
  };
}

/** Progress, to bench/.cache/reads.log (the child's stdout). */
function progress(message: string): void {
  console.log(`${new Date().toISOString()} reads: ${message}`);
}

/** A client whose connection dropping (the server restarting, the database dropped) fails its queries, not the process. */
function newClient(connectionString: string): pg.Client {
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: 10_000 });
  client.on("error", (error) => progress(`connection lost: ${error.message}`));
  return client;
}

const gb = (bytes: number): string => `${(bytes / 1e9).toFixed(2)} GB`;

/**
 * A Kysely that compiles as the archive's does (the Postgres dialect) but sends nothing (kysely's DummyDriver answers
 * every query with no rows), recording the last query: the SQL and parameters the real functions send, taken without
 * running them, so the EXPLAIN ANALYZE that follows is the query's first read of its rows.
 */
class QueryRecorder {
  last: CompiledQuery | undefined;
  readonly db: Kysely<Database>;
  constructor() {
    this.db = new Kysely<Database>({
      dialect: {
        createAdapter: () => new PostgresAdapter(),
        createDriver: () => new DummyDriver(),
        createIntrospector: (db) => new PostgresIntrospector(db),
        createQueryCompiler: () => new PostgresQueryCompiler(),
      },
      log: (event) => {
        this.last = event.query;
      },
    });
  }
  async capture(run: (db: Kysely<Database>) => Promise<unknown>): Promise<CompiledQuery> {
    this.last = undefined;
    await run(this.db);
    if (this.last === undefined) throw new Error("the query function sent no query");
    return this.last;
  }
}

interface Plan {
  title: string;
  call: string;
  sql: string;
  parameters: readonly unknown[];
  text: string;
  indexes: string[];
  seqScans: string[];
  executionMs: number;
  returnedRows: number;
  summary: string;
  expected: string;
  onExpected: boolean;
}

function describeParameter(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  return JSON.stringify(value);
}

/** EXPLAIN (ANALYZE, BUFFERS) of the query as sent, with the same parameters (so the same custom plan). */
async function explain(
  client: pg.Client,
  query: CompiledQuery,
  title: string,
  call: string,
  expected: string,
): Promise<Plan> {
  const result = await client.query<{ "QUERY PLAN": string }>(`EXPLAIN (ANALYZE, BUFFERS) ${query.sql}`, [
    ...query.parameters,
  ]);
  const lines = result.rows.map((r) => r["QUERY PLAN"]);
  const text = lines.join("\n");
  const indexes = [
    ...new Set([...text.matchAll(/(?:Index(?: Only)? Scan(?: Backward)? using|Bitmap Index Scan on) (\S+)/g)].map((m) => m[1] ?? "")),
  ];
  const seqScans = [...new Set([...text.matchAll(/Seq Scan on (\S+)/g)].map((m) => m[1] ?? ""))];
  const executionMs = Number(/Execution Time: ([\d.]+) ms/.exec(text)?.[1] ?? Number.NaN);
  const returnedRows = Number(/actual time=[\d.]+\.\.[\d.]+ rows=(\d+)/.exec(lines[0] ?? "")?.[1] ?? Number.NaN);
  // The plan's nodes, outermost first: "Limit → Sort → Bitmap Heap Scan → Bitmap Index Scan on …".
  const nodes = lines
    .map((line) => /^\s*(?:->\s+)?(\S.*?)\s+\(cost=/.exec(line)?.[1])
    .filter((node): node is string => node !== undefined)
    .map((node) => node.replace(/ on images(?: \w+)?$/, "").replace(/ using /, " on "));
  const buffers = /Buffers: ([^\n]+)/.exec(text)?.[1]?.trim() ?? "";
  const summary = `${nodes.join(" → ")}; ${returnedRows} rows in ${executionMs.toFixed(2)} ms (server); buffers ${buffers}`;
  return {
    title,
    call,
    sql: query.sql,
    parameters: query.parameters,
    text,
    indexes,
    seqScans,
    executionMs,
    returnedRows,
    summary,
    expected,
    onExpected: indexes.includes(expected) && seqScans.length === 0,
  };
}

interface UnindexedCheck {
  title: string;
  call: string;
  sql: string;
  parameters: readonly unknown[];
  /** EXPLAIN without ANALYZE: the plan the call gets (its scan of the whole table is not run twice). */
  text: string;
  nodes: string[];
  seqScan: boolean;
  /** One call, or undefined when it ran past the statement timeout. */
  ms: number | undefined;
  rows: number;
}

/** A read the read API allows but no index serves (no site): its plan, and one call under a statement timeout. */
async function checkUnindexed(
  client: pg.Client,
  db: Kysely<Database>,
  query: CompiledQuery,
  title: string,
  call: string,
  run: (db: Kysely<Database>) => Promise<number>,
): Promise<UnindexedCheck> {
  const result = await client.query<{ "QUERY PLAN": string }>(`EXPLAIN ${query.sql}`, [...query.parameters]);
  const lines = result.rows.map((r) => r["QUERY PLAN"]);
  const nodes = lines
    .map((line) => /^\s*(?:->\s+)?(\S.*?)\s+\(cost=/.exec(line)?.[1])
    .filter((node): node is string => node !== undefined)
    .map((node) => node.replace(/ on images(?: \w+)?$/, "").replace(/ using /, " on "));
  await sql`SET statement_timeout = ${sql.lit(`${UNINDEXED_TIMEOUT_MS}ms`)}`.execute(db);
  let ms: number | undefined;
  let rows = 0;
  try {
    const t0 = performance.now();
    rows = await run(db);
    ms = performance.now() - t0;
  } catch (error) {
    if (!(error instanceof pg.DatabaseError && error.code === "57014")) throw error;
  } finally {
    await sql`RESET statement_timeout`.execute(db);
  }
  const text = lines.join("\n");
  return { title, call, sql: query.sql, parameters: query.parameters, text, nodes, seqScan: /Seq Scan/.test(text), ms, rows };
}

interface TimedQuery {
  figure: string;
  samples: number[];
  rowsReturned: number[];
  plan: Plan;
  target: number;
}

function docSection(
  layout: Layout,
  size: Sizes,
  fill: Prefill,
  plans: readonly Plan[],
  unindexed: readonly UnindexedCheck[],
  server: string,
): string {
  const lines = [
    `<!-- reads:${layout.rows} start -->`,
    `## ${layout.rows.toLocaleString("en-US")} rows`,
    "",
    `Written by \`bench/reads.ts\` on ${new Date().toISOString()} (${server}). ${size.rows.toLocaleString("en-US")} rows: ` +
      `${SITE_COUNT} sites × ${layout.nightsPerSite} nights each (one every ${(SPAN_DAYS / layout.nightsPerSite).toFixed(1)} days over ` +
      `${SPAN_DAYS} days) × ${PER_SITE_NIGHT} exposures; heap ${gb(size.tableBytes)}, TOAST ${gb(size.toastBytes)}, ` +
      `indexes ${gb(size.indexBytes)} (${size.indexSizes.map((i) => `${i.name} ${gb(i.bytes)}`).join(", ")}). ` +
      `Filled in ${fill.insertSeconds.toFixed(0)} s, indexes rebuilt in ${fill.indexSeconds.toFixed(0)} s, VACUUM ANALYZE ${fill.vacuumSeconds.toFixed(0)} s.` +
      (fill.skipped.length > 0 ? ` Left out (BENCH_READS_SKIP_GIN=1): ${fill.skipped.join(", ")}.` : ""),
    "",
  ];
  for (const plan of plans) {
    lines.push(
      `### ${plan.title}`,
      "",
      `\`${plan.call}\` — ${plan.onExpected ? `on ${plan.expected}, as intended` : `**not on ${plan.expected}**`}` +
        ` (indexes used: ${plan.indexes.join(", ") || "none"}${plan.seqScans.length > 0 ? `; sequential scan of ${plan.seqScans.join(", ")}` : ""}).`,
      "",
      "```sql",
      plan.sql.replace(/\s+/g, " ").trim(),
      `-- parameters: ${plan.parameters.map(describeParameter).join(", ")}`,
      "```",
      "",
      "```",
      plan.text,
      "```",
      "",
    );
  }
  if (unindexed.length > 0) {
    lines.push(
      "### Reads without a site",
      "",
      "GET /filtered_images takes every filter as optional. Without `site`, no index can be searched by its leading column",
      "(both read indexes lead with site) and none gives the `sort_date DESC NULLS LAST, image_id DESC` order alone: Postgres",
      "reads the whole table, or the whole of images_site_capture_date_idx for a capture_date range, then sorts. Plans",
      "without ANALYZE; one call each, " +
        `under a ${UNINDEXED_TIMEOUT_MS / 1000} s statement timeout (the read function's own timeout is ${READ_FUNCTION_TIMEOUT_MS / 1000} s).`,
      "",
    );
    for (const check of unindexed) {
      lines.push(
        `#### ${check.title}`,
        "",
        `\`${check.call}\` — ${check.ms === undefined ? `**did not finish in ${UNINDEXED_TIMEOUT_MS / 1000} s**` : `${(check.ms / 1000).toFixed(2)} s, ${check.rows} rows`}.`,
        "",
        "```",
        check.text,
        "```",
        "",
      );
    }
  }
  lines.push(`<!-- reads:${layout.rows} end -->`);
  return lines.join("\n");
}

const DOC_INTRO = `# Read queries: EXPLAIN (ANALYZE, BUFFERS)

The plans of the read API's queries (\`packages/core/src/exposures/imageQueries.ts\`) on tables of production's shape,
written by \`npm run bench -- --only reads\` (\`BENCH_READS_ROWS\` sets the row count). Each section below is replaced
when the benchmark runs again at its row count; the SQL is what the real functions compile (recorded through a kysely
that sends nothing), and the plans were taken with the same parameters, so they are the custom plans those calls get.
`;

/** Replaces (or adds) this row count's section of docs/reads-explain.md, keeping everything else. */
async function writeDoc(section: string, rows: number): Promise<void> {
  const current = existsSync(DOC) ? await readFile(DOC, "utf8") : DOC_INTRO;
  const start = `<!-- reads:${rows} start -->`;
  const end = `<!-- reads:${rows} end -->`;
  const from = current.indexOf(start);
  const to = current.indexOf(end);
  const next =
    from >= 0 && to > from
      ? `${current.slice(0, from)}${section}${current.slice(to + end.length)}`
      : `${current.trimEnd()}\n\n${section}\n`;
  await writeFile(DOC, next);
}

/** Free bytes where the server keeps its data, when that is a local path we may read; undefined otherwise. */
async function freeBytes(client: pg.Client): Promise<{ path: string; bytes: number } | undefined> {
  try {
    const result = await client.query<{ data_directory: string }>("SHOW data_directory");
    const path = result.rows[0]?.data_directory;
    if (path === undefined) return undefined;
    const fs = await statfs(path);
    return { path, bytes: fs.bavail * fs.bsize };
  } catch {
    return undefined;
  }
}

export async function benchReads(options: BenchOptions): Promise<Row[]> {
  const serverUrl = process.env.BENCH_DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
  const rowsWanted = Number(process.env.BENCH_READS_ROWS ?? DEFAULT_ROWS);
  if (!Number.isInteger(rowsWanted) || rowsWanted < SITE_COUNT * PER_SITE_NIGHT) {
    throw new Error(`BENCH_READS_ROWS must be a whole number ≥ ${SITE_COUNT * PER_SITE_NIGHT}`);
  }
  const layout = layoutOf(rowsWanted);
  const admin = newClient(serverUrl);
  try {
    await admin.connect();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return [{ ...notMeasured("reads", "skipped: PostgreSQL is down", `${serverUrl}: ${reason}`), met: undefined }];
  }
  const free = await freeBytes(admin);
  // Heap, TOAST and indexes, plus WAL (max_wal_size) and an index build's sort files.
  const needed = layout.rows * BYTES_PER_ROW * 1.1 + 4e9;
  if (free !== undefined && free.bytes < needed) {
    await admin.end();
    return [
      notMeasured(
        "reads",
        `skipped: ${layout.rows.toLocaleString("en-US")} rows do not fit`,
        `about ${gb(needed)} needed, ${gb(free.bytes)} free under ${free.path}`,
        "lower",
      ),
    ];
  }
  const server = (await admin.query<{ v: string }>("SELECT 'PostgreSQL ' || current_setting('server_version') AS v")).rows[0]?.v ?? "";
  const name = `bench_reads_${process.pid}_${Date.now().toString(36)}`;
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const db = createDb(url.toString(), { poolSize: 1 });
  const recorder = new QueryRecorder();
  const client = newClient(url.toString());
  progress(`database ${name} created; ${free === undefined ? "free disk unknown" : `${gb(free.bytes)} free under ${free.path}`}`);
  try {
    await migrateToLatest(db);
    const fill = await prefill(url.toString(), layout, process.env.BENCH_READS_SKIP_GIN === "1");
    await client.connect();
    const size = await sizes(client);
    progress(`filled: ${gb(size.tableBytes + size.toastBytes + size.indexBytes)}; measuring`);

    const runs = { warmup: 3, minRuns: options.quick ? 10 : 30, maxRuns: 500, minTimeMs: options.quick ? 1000 : 4000 };
    // Plans are taken on a night and rows the timed calls do not touch, before them: their buffers show what a query
    // reads when its pages are not in shared_buffers yet (they may be in the OS cache, which holds a 1 M-row table
    // whole but not a 10 M-row one).
    const explainNight = siteNights(layout, 1, 3)[0] ?? siteNight(layout, 0, 0);
    const nightFilters = (n: SiteNight): ImageFilters => ({
      site: n.site,
      startDate: n.night,
      endDate: new Date(n.night.getTime() + 86_400_000 - 1000),
    });
    const nights = siteNights(layout, 40, 0);
    // Nights read once each, before the repeated ones: what the first look at a night costs.
    const firstLookNights = siteNights(layout, 30, 11);
    const explainBase = baseFilenameOf(layout, Math.floor(layout.rows * 0.61803));
    const bases = Array.from({ length: 200 }, (_, k) => baseFilenameOf(layout, Math.floor(((k + 0.5) * layout.rows) / 200)));

    interface Case {
      figure: string;
      title: string;
      expected: string;
      target: number;
      call: (n: SiteNight) => string;
      run: (db: Kysely<Database>, k: number) => Promise<number>;
      explainWith: (db: Kysely<Database>) => Promise<number>;
      /** Calls that each read rows nothing has read before (firstLookNights), timed once each before `run`'s. */
      firstLook?: (db: Kysely<Database>, k: number) => Promise<number>;
    }
    const night = (k: number): SiteNight => nights[k % nights.length] ?? explainNight;
    const cases: Case[] = [
      {
        figure: `filteredImages: a night of one site (limit ${NIGHT_LIMIT.toLocaleString("en-US")})`,
        title: "filteredImages: the night view (site, capture_date range)",
        expected: "images_site_capture_date_idx",
        target: 100,
        call: (n) =>
          `filteredImages(db, { site: "${n.site}", startDate: ${n.night.toISOString().slice(0, 10)}T00:00:00Z, endDate: …T23:59:59Z }, ${NIGHT_LIMIT})`,
        run: async (d, k) => (await filteredImages(d, nightFilters(night(k)), NIGHT_LIMIT)).length,
        explainWith: async (d) => (await filteredImages(d, nightFilters(explainNight), NIGHT_LIMIT)).length,
        firstLook: async (d, k) =>
          (await filteredImages(d, nightFilters(firstLookNights[k] ?? explainNight), NIGHT_LIMIT)).length,
      },
      {
        figure: "filteredImages: a night of one site + filter=",
        title: "filteredImages: the night view with filter=",
        expected: "images_site_capture_date_idx",
        target: 100,
        call: (n) =>
          `filteredImages(db, { site: "${n.site}", filter: "${n.filter}", startDate: ${n.night.toISOString().slice(0, 10)}T00:00:00Z, endDate: …T23:59:59Z }, ${NIGHT_LIMIT})`,
        run: async (d, k) => {
          const n = night(k);
          return (await filteredImages(d, { ...nightFilters(n), filter: n.filter }, NIGHT_LIMIT)).length;
        },
        explainWith: async (d) =>
          (await filteredImages(d, { ...nightFilters(explainNight), filter: explainNight.filter }, NIGHT_LIMIT)).length,
      },
      {
        figure: `latestSiteImages(site, ${LATEST_COUNT})`,
        title: `latestSiteImages: a site's ${LATEST_COUNT} newest`,
        expected: "images_site_sort_date_idx",
        target: 20,
        call: (n) => `latestSiteImages(db, "${n.site}", ${LATEST_COUNT})`,
        run: async (d, k) => (await latestSiteImages(d, SITES[k % SITES.length] ?? "sro", LATEST_COUNT)).length,
        explainWith: async (d) => (await latestSiteImages(d, explainNight.site, LATEST_COUNT)).length,
      },
      {
        figure: "latestImagePerSite",
        title: "latestImagePerSite: each site's newest (loose index scan)",
        expected: "images_site_sort_date_idx",
        target: 50,
        call: () => "latestImagePerSite(db)",
        run: async (d) => (await latestImagePerSite(d)).length,
        explainWith: async (d) => (await latestImagePerSite(d)).length,
      },
      {
        figure: "findImage(base_filename)",
        title: "findImage: one exposure by base filename",
        expected: "images_base_filename_key",
        target: 5,
        call: () => `findImage(db, "${explainBase}")`,
        run: async (d, k) => ((await findImage(d, bases[k % bases.length] ?? explainBase)) === undefined ? 0 : 1),
        explainWith: async (d) => ((await findImage(d, explainBase)) === undefined ? 0 : 1),
      },
    ];

    const timed: TimedQuery[] = [];
    const firstLooks: TimedQuery[] = [];
    for (const c of cases) {
      const query = await recorder.capture(c.explainWith);
      const plan = await explain(client, query, c.title, c.call(explainNight), c.expected);
      if (c.firstLook !== undefined) {
        const look = c.firstLook;
        const rowsReturned: number[] = [];
        const samples: number[] = [];
        for (let k = 0; k < firstLookNights.length; k += 1) {
          const t0 = performance.now();
          rowsReturned.push(await look(db, k));
          samples.push(performance.now() - t0);
        }
        firstLooks.push({ figure: c.figure, samples, rowsReturned, plan, target: c.target });
      }
      let k = 0;
      const rowsReturned: number[] = [];
      const samples = await repeat(async () => {
        rowsReturned.push(await c.run(db, k));
        k += 1;
      }, runs);
      timed.push({ figure: c.figure, samples, rowsReturned, plan, target: c.target });
      progress(`${c.figure}: ${samples.length} calls; plan: ${plan.summary}`);
    }
    const someUser = "Observer 7";
    const allSitesNight = nightFilters(explainNight);
    const unindexed: UnindexedCheck[] = [];
    for (const check of [
      {
        title: "filteredImages: one user's exposures, any site",
        call: `filteredImages(db, { username: "${someUser}" }, ${NIGHT_LIMIT})`,
        run: async (d: Kysely<Database>) => (await filteredImages(d, { username: someUser }, NIGHT_LIMIT)).length,
      },
      {
        title: "filteredImages: one night of every site",
        call: `filteredImages(db, { startDate: ${explainNight.night.toISOString().slice(0, 10)}T00:00:00Z, endDate: …T23:59:59Z }, ${NIGHT_LIMIT})`,
        run: async (d: Kysely<Database>) =>
          (await filteredImages(d, { startDate: allSitesNight.startDate, endDate: allSitesNight.endDate }, NIGHT_LIMIT)).length,
      },
    ]) {
      const query = await recorder.capture(check.run);
      const result = await checkUnindexed(client, db, query, check.title, check.call, check.run);
      unindexed.push(result);
      progress(`${check.title}: ${result.ms === undefined ? "timed out" : `${result.ms.toFixed(0)} ms`}; plan ${result.nodes.join(" → ")}`);
    }
    await writeDoc(docSection(layout, size, fill, timed.map((t) => t.plan), unindexed, server), layout.rows);

    const onExpected = timed.filter((t) => t.plan.onExpected).length;
    const rowsLabel = `${(layout.rows / 1e6).toLocaleString("en-US")} M rows`;
    const returnedNote = (t: TimedQuery): string => {
      const sorted = [...t.rowsReturned].sort((a, b) => a - b);
      return sorted[0] === sorted.at(-1) ? `${sorted[0] ?? 0}` : `${sorted[0] ?? 0}–${sorted.at(-1) ?? 0}`;
    };
    return [
      row({
        bench: "reads",
        figure: `prefill ${layout.rows.toLocaleString("en-US")} rows`,
        unit: "s",
        stats: single(fill.insertSeconds + fill.indexSeconds + fill.vacuumSeconds),
        better: "lower",
        note: `INSERT … SELECT generate_series on 2 connections ${fill.insertSeconds.toFixed(0)} s (the plain indexes ${fill.indexes.join(", ")} dropped, then rebuilt from their definitions in ${fill.indexSeconds.toFixed(0)} s${fill.skipped.length > 0 ? `, except ${fill.skipped.join(", ")} (BENCH_READS_SKIP_GIN=1)` : ""}), VACUUM ANALYZE ${fill.vacuumSeconds.toFixed(0)} s; ${SITE_COUNT} sites × ${layout.nightsPerSite} nights × ${PER_SITE_NIGHT} exposures, 97% with a medium jpg, 30% smart stacks (SMARTSTK/SSTKNUM), a 105-keyword header each; database ${name}, dropped after`,
      }),
      row({
        bench: "reads",
        figure: "  table size (heap + TOAST + indexes)",
        unit: "GB",
        stats: single((size.tableBytes + size.toastBytes + size.indexBytes) / 1e9),
        better: "lower",
        note: `heap ${gb(size.tableBytes)}, TOAST ${gb(size.toastBytes)}, ${size.indexSizes.map((i) => `${i.name} ${gb(i.bytes)}`).join(", ")}`,
      }),
      ...timed.flatMap((t) => {
        const rows = [
          row({
            bench: "reads",
            figure: `${t.figure}, ${rowsLabel}`,
            unit: "ms",
            stats: stats(t.samples),
            better: "lower",
            target: atMost(t.target, `≤ ${t.target} ms`),
            note: `${returnedNote(t)} rows returned; ${firstLooks.some((f) => f.figure === t.figure) ? `${nights.length} nights in turn, each read many times (warm); ` : ""}plan: ${t.plan.summary}`,
          }),
        ];
        const first = firstLooks.find((f) => f.figure === t.figure);
        if (first !== undefined) {
          rows.push(
            row({
              bench: "reads",
              figure: "  first read of a night",
              unit: "ms",
              stats: stats(first.samples),
              better: "lower",
              target: atMost(t.target, `≤ ${t.target} ms`),
              note: `${first.samples.length} nights, each read once before anything else read them: their rows are not in shared_buffers (${returnedNote(first)} rows each, one heap page a row); ${
                layout.rows * BYTES_PER_ROW > totalmem() ? "the table is larger than the machine's memory, so most come from disk" : "the table fits in the OS page cache, so they may come from there"
              }`,
            }),
          );
        }
        return rows;
      }),
      ...unindexed.map((check) =>
        row({
          bench: "reads",
          figure: `  no site: ${check.title.replace(/^filteredImages: /, "")}`,
          unit: "ms",
          stats: single(check.ms ?? Number.NaN),
          better: "lower",
          target: atMost(READ_FUNCTION_TIMEOUT_MS, "< 10 s (apiReads)"),
          note: `${check.ms === undefined ? `did not finish in ${UNINDEXED_TIMEOUT_MS / 1000} s (statement timeout); ` : `${check.rows} rows; `}one call; plan ${check.nodes.join(" → ")}${check.seqScan ? " (SEQ SCAN of the whole table)" : ""}`,
        }),
      ),
      row({
        bench: "reads",
        figure: "  plans on their intended index",
        unit: `of ${timed.length}`,
        stats: single(onExpected),
        better: "higher",
        target: { value: timed.length, better: "higher", label: `${timed.length}` },
        note: `${timed
          .map((t) => `${t.figure.split(":")[0] ?? t.figure} → ${t.plan.indexes.join("+") || "no index"}${t.plan.seqScans.length > 0 ? " + seq scan" : ""}`)
          .join("; ")}; full plans in docs/reads-explain.md`,
      }),
    ];
  } finally {
    await client.end().catch(() => undefined);
    await recorder.db.destroy().catch(() => undefined);
    await db.destroy().catch(() => undefined);
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}
