import { ScanCommand } from "@aws-sdk/lib-dynamodb";
import { assertSiteName, parseBaseFilename } from "../names/fileName";
import type { ArchiveContext } from "../platform/context";
import { queryValidItems, type ItemPage } from "../platform/dynamo";
import { InvalidInputError } from "../platform/errors";
import { expirationEntrySchema, type ExpirationEntry } from "./expirationTracker";
import type { PinnedExposure } from "./expiryTables";
import { pinsOf } from "./pins";

/**
 * The dry run of expiry (GET /expiry, `npx archive expire --dry-run`): every pending tracker entry, in the order they
 * come due, with what will happen to each (deleted, or kept because it is pinned), then the pinned exposures whose
 * entry is already gone (kept until unpinned). Nothing is deleted here: deletion is TTL's and the sweep's.
 *
 * Cost: the tracker is the running system's table, keyed by base filename with no index (and none is added), so the
 * plan is one Scan of the whole table; `site` is a filter, applied after the read. A Scan costs 0.5 read units per
 * 4 KB read (eventually consistent): entries are ~80 bytes, so 100,000 pending entries (8 MB) cost ~1,000 read units,
 * about $0.000125 on demand, and ~17 minutes on a table provisioned with 1 read unit per second.
 */
export interface PlannedExpiry {
  base_filename: string;
  site: string;
  s3_directory: ExpirationEntry["s3_directory"];
  /** When its entry comes due (ISO, UTC); null for a pinned exposure whose entry is gone. */
  expires_at: string | null;
  /** Its entry is past due: TTL or the sweep acts on it within the hour. */
  due: boolean;
  action: "delete" | "keep";
  pin: { pinned_at: string; pinned_by: string; note: string | null } | null;
}

export interface ExpiryPlan {
  site: string | null;
  generated_at: string;
  /** Tracker entries read by the scan (all sites, whatever the filter). */
  scanned: number;
  /** Exposures that would be deleted. */
  deletions: number;
  /** Pinned exposures, kept. */
  pinned: number;
  entries: PlannedExpiry[];
}

export async function expiryPlan(ctx: ArchiveContext, options: { site?: string | undefined; now: Date }): Promise<ExpiryPlan> {
  const site = options.site === undefined ? undefined : assertSiteName(options.site);
  const [scan, pins] = await Promise.all([pendingEntries(ctx, site), pinsOf(ctx.db, site)]);
  const pinByBase = new Map(pins.map((pin) => [pin.base_filename, pin]));
  const now = options.now.getTime() / 1000;
  const planned = scan.entries
    .sort((a, b) => a.expiration_timestamp_s - b.expiration_timestamp_s || (a.pk < b.pk ? -1 : a.pk > b.pk ? 1 : 0))
    .map((entry): PlannedExpiry => {
      const pin = entry.s3_directory === "data" ? pinByBase.get(entry.pk) : undefined;
      return {
        base_filename: entry.pk,
        site: siteOf(entry.pk),
        s3_directory: entry.s3_directory,
        expires_at: new Date(entry.expiration_timestamp_s * 1000).toISOString(),
        due: entry.expiration_timestamp_s <= now,
        action: pin ? "keep" : "delete",
        pin: pin ? pinView(pin) : null,
      };
    });
  const tracked = new Set(scan.entries.map((entry) => entry.pk));
  const keptWithoutEntry = pins
    .filter((pin) => !tracked.has(pin.base_filename))
    .map((pin): PlannedExpiry => ({
      base_filename: pin.base_filename,
      site: pin.site,
      s3_directory: "data",
      expires_at: null,
      due: false,
      action: "keep",
      pin: pinView(pin),
    }));
  const entries = [...planned, ...keptWithoutEntry];
  return {
    site: site ?? null,
    generated_at: options.now.toISOString(),
    scanned: scan.scanned,
    deletions: entries.filter((entry) => entry.action === "delete").length,
    pinned: entries.filter((entry) => entry.pin !== null).length,
    entries,
  };
}

function pinView(pin: PinnedExposure): NonNullable<PlannedExpiry["pin"]> {
  return { pinned_at: pin.pinned_at.toISOString(), pinned_by: pin.pinned_by, note: pin.note };
}

/** The site of a tracker key; the old service's keys are base filenames too, but a stray one is shown as it is. */
function siteOf(pk: string): string {
  try {
    return parseBaseFilename(pk).site;
  } catch (error) {
    if (!(error instanceof InvalidInputError)) throw error;
    return pk.split("-")[0] ?? pk;
  }
}

async function pendingEntries(ctx: ArchiveContext, site: string | undefined): Promise<{ entries: ExpirationEntry[]; scanned: number }> {
  let scanned = 0;
  const page = async (startKey: Record<string, unknown> | undefined): Promise<ItemPage> => {
    const result = await ctx.dynamo.send(
      new ScanCommand({
        TableName: ctx.tables.expirations,
        ...(site === undefined ? {} : { FilterExpression: "begins_with(pk, :prefix)", ExpressionAttributeValues: { ":prefix": `${site}-` } }),
        ExclusiveStartKey: startKey,
      }),
    );
    scanned += result.ScannedCount ?? 0;
    return result;
  };
  const entries = await queryValidItems(ctx, "scan the expiration tracker", expirationEntrySchema, Number.POSITIVE_INFINITY, page);
  return { entries, scanned };
}
