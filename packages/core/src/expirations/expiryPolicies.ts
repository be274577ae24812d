import type { Kysely } from "kysely";
import type { Database } from "../exposures/imagesTable";
import type { ArchiveObjectKey } from "../names/fileName";
import type { ArchiveContext } from "../platform/context";
import type { ExpiryPolicy } from "./expiryTables";

/**
 * How long data/ exposures are kept, as data: `expiry_policies` rows (site, data type, lifetime in seconds). The
 * site's own row wins over the `*` row; a NULL lifetime, or no row, keeps the exposure. An exposure's expiry is set
 * once, from its first file's arrival (trackExpiration), so a changed row applies to exposures arriving after it.
 */
export const EVERY_SITE = "*";

/** How long a process trusts the policies it read: a changed row applies within this, and a batch costs no query. */
export const POLICY_CACHE_MS = 60_000;

/** Lifetimes in seconds by site, then data type (null: kept). */
export type ExpiryPolicies = ReadonlyMap<string, ReadonlyMap<string, number | null>>;

export async function loadExpiryPolicies(db: Kysely<Database>): Promise<ExpiryPolicies> {
  const rows: ExpiryPolicy[] = await db.selectFrom("expiry_policies").select(["site", "data_type", "lifetime_seconds"]).execute();
  const bySite = new Map<string, Map<string, number | null>>();
  for (const row of rows) {
    const site = bySite.get(row.site) ?? new Map<string, number | null>();
    site.set(row.data_type, row.lifetime_seconds);
    bySite.set(row.site, site);
  }
  return bySite;
}

/** The lifetime (ms) of a site's exposures of a data type, or undefined when they are kept. */
export function lifetimeOf(policies: ExpiryPolicies, site: string, dataType: string): number | undefined {
  const type = dataType.toUpperCase();
  const own = policies.get(site);
  const seconds = own?.has(type) ? own.get(type) : policies.get(EVERY_SITE)?.get(type);
  return seconds === null || seconds === undefined ? undefined : seconds * 1000;
}

interface CachedPolicies {
  loadedAt: number;
  policies: Promise<ExpiryPolicies>;
}

// Per database (one per process, one per test), so no reset is ever needed; a failed read is not kept.
const cache = new WeakMap<Kysely<Database>, CachedPolicies>();

/** The policies, read at most once per POLICY_CACHE_MS of the context's clock (again when the clock goes back). */
export function cachedExpiryPolicies(ctx: Pick<ArchiveContext, "db" | "clock">): Promise<ExpiryPolicies> {
  const now = ctx.clock().getTime();
  const cached = cache.get(ctx.db);
  if (cached && now >= cached.loadedAt && now - cached.loadedAt < POLICY_CACHE_MS) return cached.policies;
  const policies = loadExpiryPolicies(ctx.db);
  cache.set(ctx.db, { loadedAt: now, policies });
  policies.catch(() => {
    if (cache.get(ctx.db)?.policies === policies) cache.delete(ctx.db);
  });
  return policies;
}

/** When an arriving data/ file's exposure is to be deleted, or undefined when its site and data type are kept. */
export async function dataExpiryOf(
  ctx: Pick<ArchiveContext, "db" | "clock">,
  file: Pick<ArchiveObjectKey, "site" | "dataType">,
  arrivedAt: Date,
): Promise<Date | undefined> {
  const lifetime = lifetimeOf(await cachedExpiryPolicies(ctx), file.site, file.dataType);
  return lifetime === undefined ? undefined : new Date(arrivedAt.getTime() + lifetime);
}
