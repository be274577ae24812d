import type { Selectable } from "kysely";

/**
 * The expiry tables' columns (migration 2026_11_30_0004): the lifetime of data/ exposures per site and data type, and
 * the exposures pinned past their expiry.
 */
export interface ExpiryPoliciesTable {
  /** A site, or `*` for every site without its own row. */
  site: string;
  /** Upper case, as `EP`. */
  data_type: string;
  /** Null: exposures of this site and data type are kept. */
  lifetime_seconds: number | null;
}

export interface PinnedExposuresTable {
  base_filename: string;
  site: string;
  pinned_at: Date;
  /** The operator whose token pinned it (`local` on the local archive, where the routes are open). */
  pinned_by: string;
  note: string | null;
}

export type ExpiryPolicy = Selectable<ExpiryPoliciesTable>;
export type PinnedExposure = Selectable<PinnedExposuresTable>;
