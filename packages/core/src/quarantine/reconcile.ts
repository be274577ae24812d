import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { BatchGetCommand } from "@aws-sdk/lib-dynamodb";
import { INGEST_ROUTES } from "../deliveries/pipelines";
import { daysToMs, RETENTION } from "../deliveries/retention";
import { parseObjectKey } from "../names/fileName";
import type { AwsContext } from "../platform/context";
import { dynamoCall } from "../platform/dynamo";
import { ArchiveError, TransientError } from "../platform/errors";
import type { ObjectHead } from "../platform/s3";
import { mapConcurrently, reingestObjects } from "./reingest";

/**
 * The reconciler: what the bucket holds against what ingestion recorded (object-deliveries, one item per object), and
 * a re-ingestion (reingest.ts, the path of POST /reingest) of every object whose event was lost: no delivery record,
 * or a record of another ETag. Objects younger than the grace period are left alone (their events may be in flight).
 *
 * Listing: keys are `{prefix}{site}-{instrument}-{YYYYMMDD}-{counter}-…`, so a hierarchical listing with Delimiter
 * "-" names the sites, then each site's instruments, and then only the per-day prefixes of the days in
 * [since − 1 day, now + 1 day] (a night's date may lag or lead UTC) are listed in full: the cost follows the recent
 * objects, never the bucket's size. S3 Inventory costs $0.0025 per million objects listed but arrives daily (up to
 * 48 h late), too late to repair an event within the hour: a weekly audit's tool, not this one's.
 *
 * Cost per run (docs/scale.md's fleet: 100 sites, one instrument each, 10,000 objects a site-night, 1 M a night; a
 * bucket of 20 M objects; us-east-1 list prices: LIST $0.005/1000, on-demand reads $0.125 per million RRU, Lambda
 * arm64 $0.0000133334 per GB-s):
 *   LIST calls = 3 directories + sites (instrument listings) + Σ over site-instruments and days of ⌈objects/1000⌉
 *   (at least 1); RRU = objects modified in the window × 0.5 (BatchGetItem, eventually consistent, items < 4 KB);
 *   GB-s = 0.5 GB × run time (8 listings or batch reads at once).
 *   Hourly, since now − 2 h (3 days listed: yesterday's 10 pages, today's ~5, tomorrow's 1 a site in data/; 3 a site in
 *   info-images/ and allsky/): ≈ 1,700 + 800 = 2,500 LIST = $0.0125; ≤ 200,000 objects in a night's 2 h = 100,000 RRU
 *   = $0.0125; ~25 s = 12.5 GB-s = $0.0002. ≈ $0.025 a run at night, less by day: ≤ $18 a month.
 *   --since 30 days (32 days listed): ≈ 32,100 + 6,600 = 38,700 LIST = $0.19; at most the bucket's 20 M objects =
 *   10 M RRU = $1.25; ~10 min = 300 GB-s = $0.004: ≈ $1.45 a run. Delivery records live RETENTION.deliveryRecordDays
 *   (14), so `since` is capped at 13 days back: ≈ 18,300 LIST + ≤ 13 M objects ≈ $0.90.
 *   Listing the whole bucket instead costs 20,000 LIST ($0.10) and 20 M reads ($1.25) every run, $970 a month hourly.
 */
export interface ReconcileOptions {
  since: Date;
  dryRun: boolean;
  /** Objects modified within this long before now are left alone; config RECONCILE_GRACE_MINUTES by default. */
  graceMs?: number;
  /** Day prefixes not begun within this long are left for the next run (an API call's few seconds); none by default. */
  budgetMs?: number;
}

export interface PrefixReconciliation {
  prefix: string;
  /** Objects of valid names modified in the window. */
  listed: number;
  /** Of those, recorded by ingestion with the same ETag. */
  recorded: number;
  lost: number;
  reingested: number;
  list_calls: number;
}

export interface ReconcileReport {
  since: string;
  until: string;
  dry_run: boolean;
  /** False when the time budget ran out: `skipped_prefixes` day prefixes were not compared. */
  complete: boolean;
  skipped_prefixes: number;
  list_calls: number;
  listed: number;
  recorded: number;
  lost: number;
  reingested: number;
  gone: number;
  prefixes: PrefixReconciliation[];
  /** The lost objects' keys (the first 1000). */
  lost_keys: string[];
}

interface ListedObject {
  key: string;
  head: ObjectHead & { lastModified: Date };
}

interface DeliveryRecord {
  etag: string;
  sequencer: string;
}

/** The oldest `since` a run may use: objects older have outlived their delivery records. */
export function earliestSince(now: Date): Date {
  return new Date(now.getTime() - daysToMs(RETENTION.deliveryRecordDays - 1));
}

/** Listing calls run a few at a time. */
const LIST_CONCURRENCY = 8;
/** BatchGetItem's limit. */
const BATCH_GET_SIZE = 100;
const REPORTED_KEYS = 1000;

function utcDay(date: Date): string {
  return date.toISOString().slice(0, 10).replace(/-/g, "");
}

/** The night dates whose objects may have been modified in [since, until]. */
export function reconcileDays(since: Date, until: Date): string[] {
  const days: string[] = [];
  const last = utcDay(new Date(until.getTime() + daysToMs(1)));
  for (let time = since.getTime() - daysToMs(1); ; time += daysToMs(1)) {
    const day = utcDay(new Date(time));
    days.push(day);
    if (day >= last) return days;
  }
}

class Lister {
  calls = 0;
  constructor(private readonly ctx: Pick<AwsContext, "s3" | "config">) {}

  /** Every page of one listing: the common prefixes (with a delimiter) and the objects. */
  async list(prefix: string, delimiter?: string): Promise<{ prefixes: string[]; objects: ListedObject[] }> {
    const prefixes: string[] = [];
    const objects: ListedObject[] = [];
    let token: string | undefined;
    do {
      this.calls += 1;
      const page = await this.ctx.s3
        .send(
          new ListObjectsV2Command({
            Bucket: this.ctx.config.BUCKET_NAME,
            Prefix: prefix,
            ...(delimiter ? { Delimiter: delimiter } : {}),
            ...(token ? { ContinuationToken: token } : {}),
          }),
        )
        .catch((error: unknown) => {
          throw new TransientError(`S3: cannot list ${prefix}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
        });
      for (const common of page.CommonPrefixes ?? []) if (common.Prefix) prefixes.push(common.Prefix);
      for (const object of page.Contents ?? []) {
        if (!object.Key || !object.LastModified) continue;
        objects.push({
          key: object.Key,
          head: { size: object.Size ?? 0, eTag: (object.ETag ?? "").replace(/"/g, ""), lastModified: object.LastModified },
        });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return { prefixes, objects };
  }
}

function isValidKey(key: string): boolean {
  try {
    parseObjectKey(key);
    return true;
  } catch (error) {
    if (error instanceof ArchiveError) return false;
    throw error;
  }
}

/** The per-day prefixes of one directory: its sites, then their instruments (Delimiter "-"), then the days. */
async function dayPrefixes(lister: Lister, prefix: string, days: readonly string[]): Promise<string[]> {
  const sites = (await lister.list(prefix, "-")).prefixes;
  const instruments = (await mapConcurrently(sites, LIST_CONCURRENCY, (site) => lister.list(site, "-"))).flatMap((level) => level.prefixes);
  return instruments.flatMap((instrument) => days.map((day) => `${instrument}${day}-`));
}

/** The delivery records of the keys (etag, sequencer), by key; BatchGetItem, its unprocessed keys asked again. */
async function deliveryRecords(ctx: Pick<AwsContext, "dynamo" | "tables">, keys: readonly string[]): Promise<Map<string, DeliveryRecord>> {
  const records = new Map<string, DeliveryRecord>();
  const table = ctx.tables.objectDeliveries;
  const batches: string[][] = [];
  for (let start = 0; start < keys.length; start += BATCH_GET_SIZE) batches.push(keys.slice(start, start + BATCH_GET_SIZE));
  await mapConcurrently(batches, LIST_CONCURRENCY, async (batch) => {
    let pending: Record<string, unknown>[] = batch.map((key) => ({ object_key: key }));
    for (let attempt = 0; pending.length > 0; attempt += 1) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** attempt, 2000)));
      if (attempt > 10) throw new TransientError(`DynamoDB: ${pending.length} delivery records stayed unprocessed`);
      const result = await dynamoCall("read delivery records", () =>
        ctx.dynamo.send(
          new BatchGetCommand({
            RequestItems: {
              [table]: { Keys: pending, ProjectionExpression: "object_key, etag, #seq", ExpressionAttributeNames: { "#seq": "sequencer" } },
            },
          }),
        ),
      );
      for (const item of result.Responses?.[table] ?? []) {
        const key: unknown = item["object_key"];
        const etag: unknown = item["etag"];
        const sequencer: unknown = item["sequencer"];
        if (typeof key === "string") {
          records.set(key, { etag: typeof etag === "string" ? etag : "", sequencer: typeof sequencer === "string" ? sequencer : "" });
        }
      }
      pending = result.UnprocessedKeys?.[table]?.Keys ?? [];
    }
  });
  return records;
}

/** An object whose current version ingestion has not recorded: no record, or one of another ETag. */
function isLost(object: ListedObject, record: DeliveryRecord | undefined): boolean {
  if (!record) return true;
  return record.etag !== "" && object.head.eTag !== "" && record.etag !== object.head.eTag;
}

/** Compares the bucket's recent objects with the delivery records, and (unless a dry run) re-ingests the lost ones. */
export async function reconcile(ctx: AwsContext, options: ReconcileOptions): Promise<ReconcileReport> {
  const now = ctx.clock();
  const since = new Date(Math.max(options.since.getTime(), earliestSince(now).getTime()));
  const until = new Date(now.getTime() - (options.graceMs ?? ctx.config.RECONCILE_GRACE_MINUTES * 60_000));
  const prefixes: PrefixReconciliation[] = [];
  const lostKeys: string[] = [];
  let gone = 0;
  const days = reconcileDays(since, until);
  const deadline = options.budgetMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.budgetMs;
  let skipped = 0;
  for (const route of INGEST_ROUTES) {
    const lister = new Lister(ctx);
    const counts = { listed: 0, lost: 0, reingested: 0 };
    // One day prefix at a time (a few at once): memory holds one instrument-night, never the window's objects.
    await mapConcurrently(await dayPrefixes(lister, route.prefix, days), LIST_CONCURRENCY, async (dayPrefix) => {
      if (Date.now() > deadline) {
        skipped += 1;
        return;
      }
      const objects = (await lister.list(dayPrefix)).objects.filter(
        (object) => object.head.lastModified >= since && object.head.lastModified <= until && isValidKey(object.key),
      );
      if (objects.length === 0) return;
      const records = await deliveryRecords(
        ctx,
        objects.map((object) => object.key),
      );
      const lost = objects.filter((object) => isLost(object, records.get(object.key)));
      counts.listed += objects.length;
      counts.lost += lost.length;
      for (const object of lost) if (lostKeys.length < REPORTED_KEYS) lostKeys.push(object.key);
      if (options.dryRun || lost.length === 0) return;
      const report = await reingestObjects(
        ctx,
        lost.map((object) => ({ key: object.key, known: { head: object.head, recordedSequencer: records.get(object.key)?.sequencer || null } })),
      );
      counts.reingested += report.sent;
      gone += report.gone;
    });
    prefixes.push({
      prefix: route.prefix,
      listed: counts.listed,
      recorded: counts.listed - counts.lost,
      lost: counts.lost,
      reingested: counts.reingested,
      list_calls: lister.calls,
    });
  }
  const sum = (field: "listed" | "recorded" | "lost" | "reingested" | "list_calls") =>
    prefixes.reduce((total, prefix) => total + prefix[field], 0);
  const result: ReconcileReport = {
    since: since.toISOString(),
    until: until.toISOString(),
    dry_run: options.dryRun,
    complete: skipped === 0,
    skipped_prefixes: skipped,
    list_calls: sum("list_calls"),
    listed: sum("listed"),
    recorded: sum("recorded"),
    lost: sum("lost"),
    reingested: sum("reingested"),
    gone,
    prefixes,
    lost_keys: lostKeys.slice(0, REPORTED_KEYS),
  };
  ctx.log.info("reconciled the bucket with the delivery records", { ...result, prefixes: undefined, lost_keys: undefined });
  return result;
}

/** The scheduled run's window: each hourly run looks two hours back, so one failed run loses nothing. */
export const SCHEDULED_RECONCILE_WINDOW_MS = 2 * 3_600_000;

/** The hourly run (AWS) and the local archive's run at start. */
export function reconcileRecent(ctx: AwsContext, windowMs = SCHEDULED_RECONCILE_WINDOW_MS, graceMs?: number): Promise<ReconcileReport> {
  return reconcile(ctx, { since: new Date(ctx.clock().getTime() - windowMs), dryRun: false, ...(graceMs !== undefined ? { graceMs } : {}) });
}
