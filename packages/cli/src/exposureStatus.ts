import { z } from "zod";
import { requestArchive, type OperationsTarget } from "./operations";

/** `archive status <base_filename>` and `archive stuck [--site S]`: GET /status/{base_filename} and GET /stuck. */
const statusSchema = z.object({
  base_filename: z.string(),
  site: z.string(),
  instrument: z.string(),
  data_type: z.string().nullable(),
  status: z.enum(["announced", "receiving", "complete"]),
  stuck: z.boolean(),
  files: z.array(z.string()),
  expected: z.array(z.string()),
  missing: z.array(z.string()),
  announced_at: z.string().nullable(),
  receiving_at: z.string().nullable(),
  complete_at: z.string().nullable(),
  archived_at: z.string().nullable(),
  generated_preview: z.object({ source_key: z.string(), generated_at: z.string() }).nullable(),
});
export type ExposureStatusReply = z.infer<typeof statusSchema>;

const stuckSchema = z.object({ site: z.string().nullable(), stuck_after_minutes: z.number(), exposures: z.array(statusSchema) });
export type StuckReply = z.infer<typeof stuckSchema>;

export async function fetchStatus(target: OperationsTarget, baseFilename: string): Promise<ExposureStatusReply> {
  return statusSchema.parse(await requestArchive(target, "GET", `/status/${encodeURIComponent(baseFilename)}`));
}

export async function fetchStuck(target: OperationsTarget, site: string | undefined): Promise<StuckReply> {
  return stuckSchema.parse(await requestArchive(target, "GET", "/stuck", { query: site === undefined ? {} : { site } }));
}

/** The status, then one line per step reached, the files present and those missing. */
export function formatStatus(status: ExposureStatusReply): string {
  const steps = (["announced_at", "receiving_at", "complete_at", "archived_at"] as const)
    .filter((step) => status[step] !== null)
    .map((step) => `  ${step.replace(/_at$/, "").padEnd(9)} ${status[step] ?? ""}`);
  return [
    `${status.base_filename}: ${status.status}${status.stuck ? " (stuck)" : ""}`,
    ...steps,
    `  files     ${status.files.join(", ") || "none"}`,
    `  missing   ${status.missing.join(", ") || "none"}`,
    ...(status.generated_preview ? [`  preview   generated from ${status.generated_preview.source_key} at ${status.generated_preview.generated_at}`] : []),
  ].join("\n");
}

/** The earlier of its announcement and its first file: where the stuck threshold counts from. */
const firstSeen = (exposure: ExposureStatusReply) =>
  [exposure.announced_at, exposure.receiving_at].filter((time): time is string => time !== null).sort()[0] ?? "?";

/** One line per stuck exposure, oldest first: since when, its status and what it misses. */
export function formatStuck(reply: StuckReply): string {
  const scope = reply.site === null ? "every site" : `site ${reply.site}`;
  if (reply.exposures.length === 0) return `no stuck exposures (${scope}, stuck after ${reply.stuck_after_minutes} min)`;
  const lines = reply.exposures.map(
    (exposure) =>
      `${exposure.base_filename}\t${exposure.status}\tsince ${firstSeen(exposure)}\tmissing ${exposure.missing.join(", ") || "none"}`,
  );
  return [`${reply.exposures.length} stuck exposure(s) (${scope}, stuck after ${reply.stuck_after_minutes} min)`, ...lines].join("\n");
}
