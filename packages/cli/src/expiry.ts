import { z } from "zod";
import type { ExpiryPlan } from "@archive/core/expirations/expiryPlan";
import type { Unpinned } from "@archive/core/expirations/pins";
import { requestArchive, type OperationsTarget } from "./operations";

/**
 * `archive expire --dry-run`, `archive pin`, `archive unpin`: the expiry routes (GET /expiry, PUT|DELETE /pin/…), with
 * an operator token on a deployed stage and without one against the local archive.
 */
const pinSchema = z.object({ pinned_at: z.string(), pinned_by: z.string(), note: z.string().nullable() });
const planSchema = z.object({
  site: z.string().nullable(),
  generated_at: z.string(),
  scanned: z.number(),
  deletions: z.number(),
  pinned: z.number(),
  entries: z.array(
    z.object({
      base_filename: z.string(),
      site: z.string(),
      s3_directory: z.enum(["data", "info-images", "allsky"]),
      expires_at: z.string().nullable(),
      due: z.boolean(),
      action: z.enum(["delete", "keep"]),
      pin: pinSchema.nullable(),
    }),
  ),
}) satisfies z.ZodType<ExpiryPlan>;
const pinnedSchema = pinSchema.extend({ base_filename: z.string(), site: z.string() });
const unpinnedSchema = z.object({
  base_filename: z.string(),
  expires_at: z.string().nullable(),
  expiry: z.enum(["scheduled", "renewed", "kept"]),
}) satisfies z.ZodType<Unpinned>;

/** What expiry would delete, and when, in the order it comes due; pinned exposures kept. */
export async function fetchExpiryPlan(target: OperationsTarget, site: string | undefined): Promise<ExpiryPlan> {
  return planSchema.parse(await requestArchive(target, "GET", "/expiry", site === undefined ? {} : { query: { site } }));
}

export async function pinExposure(target: OperationsTarget, baseFilename: string, note: string | undefined): Promise<z.infer<typeof pinnedSchema>> {
  const path = `/pin/${encodeURIComponent(baseFilename)}`;
  return pinnedSchema.parse(await requestArchive(target, "PUT", path, note === undefined ? {} : { body: { note } }));
}

export async function unpinExposure(target: OperationsTarget, baseFilename: string): Promise<Unpinned> {
  return unpinnedSchema.parse(await requestArchive(target, "DELETE", `/pin/${encodeURIComponent(baseFilename)}`));
}

/** A heading, then one line per exposure: when, what happens, directory, base filename, and the pin. */
export function formatExpiryPlan(plan: ExpiryPlan): string {
  const heading = `${plan.site ?? "all sites"}: ${plan.deletions} to delete, ${plan.pinned} pinned (dry run at ${plan.generated_at}; ${plan.scanned} tracker entries scanned)`;
  const lines = plan.entries.map((entry) => {
    const when = entry.expires_at === null ? "expired while pinned" : `${entry.expires_at}${entry.due ? " (due)" : ""}`;
    const pin = entry.pin ? `\tpinned by ${entry.pin.pinned_by} at ${entry.pin.pinned_at}${entry.pin.note ? `: ${entry.pin.note}` : ""}` : "";
    return `${when}\t${entry.action}\t${entry.s3_directory}\t${entry.base_filename}${pin}`;
  });
  return [heading, ...lines].join("\n");
}

export function formatUnpinned(unpinned: Unpinned): string {
  if (unpinned.expiry === "kept") return `${unpinned.base_filename} unpinned; its site and data type are kept (no expiry)`;
  const how = unpinned.expiry === "renewed" ? "its expiry had passed: it expires again at" : "it expires as scheduled at";
  return `${unpinned.base_filename} unpinned; ${how} ${unpinned.expires_at ?? ""}`;
}
