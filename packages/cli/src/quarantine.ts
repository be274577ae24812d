import { z } from "zod";
import { quarantinedObjectSchema, type QuarantinedObject } from "@archive/core/quarantine/quarantine";
import { requestArchive, type OperationsTarget } from "./operations";

/**
 * `archive quarantine list|show`, `archive reingest` and `archive reconcile`: the objects ingestion refused or never
 * saw, and putting them through ingestion again (GET /quarantine, POST /reingest, POST /reconcile).
 */
const quarantineReplySchema = z.object({ objects: z.array(quarantinedObjectSchema) });

const reingestReplySchema = z.object({
  requested: z.number(),
  sent: z.number(),
  gone: z.number(),
  refused: z.number(),
  objects: z.array(z.object({ key: z.string(), status: z.string(), sequencer: z.string().optional() })),
});
export type ReingestReply = z.infer<typeof reingestReplySchema>;

const reconcileReplySchema = z.object({
  since: z.string(),
  until: z.string(),
  dry_run: z.boolean(),
  complete: z.boolean(),
  skipped_prefixes: z.number(),
  list_calls: z.number(),
  listed: z.number(),
  recorded: z.number(),
  lost: z.number(),
  reingested: z.number(),
  gone: z.number(),
  prefixes: z.array(
    z.object({ prefix: z.string(), listed: z.number(), recorded: z.number(), lost: z.number(), reingested: z.number(), list_calls: z.number() }),
  ),
  lost_keys: z.array(z.string()),
});
export type ReconcileReply = z.infer<typeof reconcileReplySchema>;

export async function fetchQuarantine(target: OperationsTarget, filter: { site?: string; since?: string }): Promise<QuarantinedObject[]> {
  const query = { ...(filter.site ? { site: filter.site } : {}), ...(filter.since ? { since: filter.since } : {}) };
  return quarantineReplySchema.parse(await requestArchive(target, "GET", "/quarantine", { query })).objects;
}

export async function fetchQuarantined(target: OperationsTarget, key: string): Promise<QuarantinedObject> {
  const [object] = quarantineReplySchema.parse(await requestArchive(target, "GET", "/quarantine", { query: { key } })).objects;
  if (!object) throw new RangeError(`${key} is not in the quarantine`);
  return object;
}

export async function requestReingest(
  target: OperationsTarget,
  request: { keys: string[] } | { quarantined: true; since?: string },
): Promise<ReingestReply> {
  return reingestReplySchema.parse(await requestArchive(target, "POST", "/reingest", { body: request }));
}

export async function requestReconcile(target: OperationsTarget, options: { since?: string; dryRun: boolean }): Promise<ReconcileReply> {
  const body = { ...(options.since ? { since: options.since } : {}), dry_run: options.dryRun };
  return reconcileReplySchema.parse(await requestArchive(target, "POST", "/reconcile", { body }));
}

/** One line per object: when last refused, the state, the reason, how often, the key and the error. */
export function formatQuarantine(objects: readonly QuarantinedObject[]): string {
  if (objects.length === 0) return "the quarantine is empty";
  return objects
    .map((object) => [object.quarantined_at, object.state, object.reason, `${object.times}×`, object.object_key, object.error].join("\t"))
    .join("\n");
}

export function formatQuarantined(object: QuarantinedObject): string {
  return [
    `key\t${object.object_key}`,
    `site\t${object.site ?? "-"}`,
    `state\t${object.state}`,
    `reason\t${object.reason}`,
    `error\t${object.error}`,
    `times\t${object.times}`,
    `first\t${object.first_quarantined_at}`,
    `last\t${object.quarantined_at}`,
    ...(object.reingested_at ? [`reingested\t${object.reingested_at}`] : []),
  ].join("\n");
}

export function formatReingest(reply: ReingestReply): string {
  const lines = reply.objects.map((object) => `${object.status}\t${object.key}`);
  return [...lines, `${reply.sent} sent, ${reply.gone} gone, ${reply.refused} refused of ${reply.requested}`].join("\n");
}

export function formatReconcile(reply: ReconcileReply): string {
  const lines = reply.prefixes.map(
    (prefix) => `${prefix.prefix}\t${prefix.listed} listed\t${prefix.recorded} recorded\t${prefix.lost} lost\t${prefix.reingested} re-ingested\t${prefix.list_calls} LIST calls`,
  );
  const verdict = reply.dry_run ? `${reply.lost} lost (dry run: nothing re-ingested)` : `${reply.lost} lost, ${reply.reingested} re-ingested`;
  const incomplete = reply.complete ? [] : [`incomplete: ${reply.skipped_prefixes} day prefixes left for the next run (the API's time budget)`];
  return [`${reply.since} … ${reply.until}`, ...lines, ...reply.lost_keys.map((key) => `lost\t${key}`), verdict, ...incomplete].join("\n");
}
