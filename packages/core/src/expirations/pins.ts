import { GetCommand } from "@aws-sdk/lib-dynamodb";
import type { Kysely } from "kysely";
import type { Database } from "../exposures/imagesTable";
import { parseBaseFilename } from "../names/fileName";
import type { ArchiveContext } from "../platform/context";
import { dynamoCall, epochSeconds } from "../platform/dynamo";
import { NotFoundError } from "../platform/errors";
import { expirationEntrySchema, trackExpiration } from "./expirationTracker";
import { lifetimeOf, loadExpiryPolicies } from "./expiryPolicies";
import type { PinnedExposure } from "./expiryTables";

/**
 * Pins: an operator keeps a data/ exposure past its expiry. While pinned, expireEntry keeps its row and objects (and
 * the tracker entry that came due is gone, removed by TTL or the sweep). On unpin an exposure whose entry is still
 * there expires as scheduled; one whose expiry passed while pinned gets a new entry UNPIN_GRACE_MS later (or its
 * lifetime, when shorter), long enough to pin a mistake again, short enough that it is not kept by accident.
 */
export const UNPIN_GRACE_MS = 3_600_000;

const PIN_COLUMNS = ["base_filename", "site", "pinned_at", "pinned_by", "note"] as const;

export async function pinOf(db: Kysely<Database>, baseFilename: string): Promise<PinnedExposure | undefined> {
  return db.selectFrom("pinned_exposures").select(PIN_COLUMNS).where("base_filename", "=", baseFilename).executeTakeFirst();
}

/** Every pin, or one site's, by base filename. */
export async function pinsOf(db: Kysely<Database>, site?: string): Promise<PinnedExposure[]> {
  let query = db.selectFrom("pinned_exposures").select(PIN_COLUMNS).orderBy("base_filename");
  if (site !== undefined) query = query.where("site", "=", site);
  return query.execute();
}

/**
 * Pins an exposure the archive holds (its `images` row; NotFoundError otherwise). Pinning again keeps the first time
 * and takes the new operator and note.
 */
export async function pinExposure(
  ctx: Pick<ArchiveContext, "db" | "clock">,
  baseFilename: string,
  pin: { pinnedBy: string; note?: string | undefined },
): Promise<PinnedExposure> {
  const { site } = parseBaseFilename(baseFilename);
  const pinned = await ctx.db
    .insertInto("pinned_exposures")
    .columns(["base_filename", "site", "pinned_at", "pinned_by", "note"])
    .expression((eb) =>
      eb
        .selectFrom("images")
        .select([
          "base_filename",
          eb.val(site).as("site"),
          eb.val(ctx.clock()).as("pinned_at"),
          eb.val(pin.pinnedBy).as("pinned_by"),
          eb.val(pin.note ?? null).as("note"),
        ])
        .where("base_filename", "=", baseFilename),
    )
    .onConflict((oc) => oc.column("base_filename").doUpdateSet((eb) => ({ pinned_by: eb.ref("excluded.pinned_by"), note: eb.ref("excluded.note") })))
    .returning(PIN_COLUMNS)
    .executeTakeFirst();
  if (!pinned) throw new NotFoundError(`no exposure ${baseFilename}: only an exposure the archive holds can be pinned`);
  return pinned;
}

export interface Unpinned {
  base_filename: string;
  /** When the exposure is now to be deleted, or null when its site and data type are kept. */
  expires_at: string | null;
  /** scheduled: its entry was still there; renewed: its expiry had passed, a new entry was written; kept: no lifetime. */
  expiry: "scheduled" | "renewed" | "kept";
}

/**
 * Unpins an exposure (NotFoundError when it is not pinned) and makes sure it expires again, if its policy says so. The
 * new entry is written before the pin goes, so a failure in between leaves it pinned and the request can be repeated.
 */
export async function unpinExposure(ctx: ArchiveContext, baseFilename: string): Promise<Unpinned> {
  parseBaseFilename(baseFilename);
  const pin = await pinOf(ctx.db, baseFilename);
  if (!pin) throw new NotFoundError(`${baseFilename} is not pinned`);
  const expiry = await expiryAfterUnpin(ctx, pin);
  await ctx.db.deleteFrom("pinned_exposures").where("base_filename", "=", baseFilename).execute();
  ctx.log.info("unpinned", { base_filename: baseFilename, expiry: expiry.expiry, expires_at: expiry.expires_at });
  return expiry;
}

async function expiryAfterUnpin(ctx: ArchiveContext, pin: PinnedExposure): Promise<Unpinned> {
  const base = pin.base_filename;
  const { Item } = await dynamoCall("read an expiration entry", () =>
    ctx.dynamo.send(new GetCommand({ TableName: ctx.tables.expirations, Key: { pk: base }, ConsistentRead: true })),
  );
  const entry = expirationEntrySchema.safeParse(Item);
  if (entry.success) return { base_filename: base, expires_at: isoSeconds(entry.data.expiration_timestamp_s), expiry: "scheduled" };
  const image = await ctx.db.selectFrom("images").select("data_type").where("base_filename", "=", base).executeTakeFirst();
  // Read now, not from the cache: an operator's one request.
  const lifetime = image?.data_type ? lifetimeOf(await loadExpiryPolicies(ctx.db), pin.site, image.data_type) : undefined;
  if (lifetime === undefined) return { base_filename: base, expires_at: null, expiry: "kept" };
  const expiresAt = new Date(ctx.clock().getTime() + Math.min(lifetime, UNPIN_GRACE_MS));
  await trackExpiration(ctx, { baseFilename: base, directory: "data" }, expiresAt);
  return { base_filename: base, expires_at: isoSeconds(epochSeconds(expiresAt)), expiry: "renewed" };
}

const isoSeconds = (seconds: number): string => new Date(seconds * 1000).toISOString();
