import { GetCommand, QueryCommand, ScanCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { z } from "zod";
import { parseObjectKey } from "../names/fileName";
import type { AwsContext } from "../platform/context";
import { dynamoCall, dynamoFault, isConditionFailure, queryValidItems, type ItemPage } from "../platform/dynamo";
import { ArchiveError, InvalidInputError, NotFoundError } from "../platform/errors";

/**
 * The objects ingestion refused, one item per key (table object-quarantine): why (a short reason code), the error,
 * when first and last, and how many times. The ingest adapter records a refusal where it acknowledges bad input, and
 * a retryable failure on its last receive before the queue dead-letters it. A successful ingestion never reads or
 * writes it: re-ingestion marks the item (`state` "reingested"), and a refusal of that re-ingestion quarantines it again.
 */
export type QuarantineReason =
  | "bad_name"
  | "wrong_bucket"
  | "wrong_prefix"
  | "unreadable_header"
  | "corrupt_jpg"
  | "object_gone"
  | "invalid_input"
  | "dead_lettered";

export const quarantinedObjectSchema = z.object({
  object_key: z.string(),
  site: z.string().optional(),
  reason: z.string(),
  error: z.string(),
  state: z.enum(["quarantined", "reingested"]),
  quarantined_at: z.string(),
  first_quarantined_at: z.string(),
  times: z.number(),
  reingested_at: z.string().optional(),
});
export type QuarantinedObject = z.infer<typeof quarantinedObjectSchema>;

type QuarantineContext = Pick<AwsContext, "dynamo" | "tables" | "clock" | "log">;

/** What a refusal says about its object: the name, where it was, the header, the jpg, the object's absence. */
export function quarantineReasonOf(key: string, error: unknown, deadLettered = false): QuarantineReason {
  if (deadLettered) return "dead_lettered";
  if (error instanceof NotFoundError) return "object_gone";
  try {
    parseObjectKey(key);
  } catch (nameError) {
    if (nameError instanceof InvalidInputError) return "bad_name";
    throw nameError;
  }
  if (error instanceof InvalidInputError) {
    if (error.field === "bucket") return "wrong_bucket";
    if (error.field === "directory") return "wrong_prefix";
    if (error.code === "corrupt_jpg") return "corrupt_jpg";
    if (/\.(txt|fits(\.(bz2|gz|fz))?)$/i.test(key)) return "unreadable_header";
  }
  return "invalid_input";
}

function siteOf(key: string): string | undefined {
  try {
    return parseObjectKey(key).site;
  } catch (error) {
    if (error instanceof ArchiveError) return undefined;
    throw error;
  }
}

/** Records a refusal of `key`: its reason and error, now, and one more time. */
export async function quarantineObject(
  ctx: QuarantineContext,
  refusal: { key: string; error: unknown; deadLettered?: boolean },
): Promise<QuarantineReason> {
  const reason = quarantineReasonOf(refusal.key, refusal.error, refusal.deadLettered);
  const site = siteOf(refusal.key);
  const now = ctx.clock().toISOString();
  const message = refusal.error instanceof Error ? refusal.error.message : String(refusal.error);
  await dynamoCall("quarantine an object", () =>
    ctx.dynamo.send(
      new UpdateCommand({
        TableName: ctx.tables.quarantine,
        Key: { object_key: refusal.key },
        UpdateExpression:
          "SET reason = :reason, #error = :error, #state = :state, quarantined_at = :now, " +
          `first_quarantined_at = if_not_exists(first_quarantined_at, :now)${site ? ", site = :site" : ""} ADD times :one`,
        ExpressionAttributeNames: { "#error": "error", "#state": "state" },
        ExpressionAttributeValues: {
          ":reason": reason,
          ":error": message.slice(0, 2000),
          ":state": "quarantined",
          ":now": now,
          ":one": 1,
          ...(site ? { ":site": site } : {}),
        },
      }),
    ),
  );
  ctx.log.warn("object quarantined", { key: refusal.key, reason });
  return reason;
}

/** Marks a quarantined object as re-ingested (released); an object that was never quarantined is left alone. */
export async function markReingested(ctx: QuarantineContext, key: string): Promise<void> {
  try {
    await ctx.dynamo.send(
      new UpdateCommand({
        TableName: ctx.tables.quarantine,
        Key: { object_key: key },
        UpdateExpression: "SET #state = :state, reingested_at = :now",
        ConditionExpression: "attribute_exists(object_key)",
        ExpressionAttributeNames: { "#state": "state" },
        ExpressionAttributeValues: { ":state": "reingested", ":now": ctx.clock().toISOString() },
      }),
    );
  } catch (error) {
    if (!isConditionFailure(error)) throw dynamoFault("mark a quarantined object re-ingested", error);
  }
}

export interface QuarantineFilter {
  site?: string;
  /** Only objects quarantined (last) at or after this time. */
  since?: Date;
  /** Only those still quarantined, not re-ingested since. */
  quarantinedOnly?: boolean;
}

/** The quarantined objects, newest first: a site's from its index, all of them from a scan (a small table). */
export async function listQuarantine(ctx: QuarantineContext, filter: QuarantineFilter = {}): Promise<QuarantinedObject[]> {
  const since = (filter.since ?? new Date(0)).toISOString();
  const page = (startKey: Record<string, unknown> | undefined): Promise<ItemPage> =>
    filter.site === undefined
      ? ctx.dynamo.send(
          new ScanCommand({
            TableName: ctx.tables.quarantine,
            FilterExpression: "quarantined_at >= :since",
            ExpressionAttributeValues: { ":since": since },
            ExclusiveStartKey: startKey,
          }),
        )
      : ctx.dynamo.send(
          new QueryCommand({
            TableName: ctx.tables.quarantine,
            IndexName: "by-site",
            KeyConditionExpression: "site = :site AND quarantined_at >= :since",
            ExpressionAttributeValues: { ":site": filter.site, ":since": since },
            ScanIndexForward: false,
            ExclusiveStartKey: startKey,
          }),
        );
  const objects = await queryValidItems(ctx, "list the quarantine", quarantinedObjectSchema, Number.POSITIVE_INFINITY, page);
  return objects
    .filter((object) => !filter.quarantinedOnly || object.state === "quarantined")
    .sort((a, b) => (a.quarantined_at < b.quarantined_at ? 1 : a.quarantined_at > b.quarantined_at ? -1 : 0));
}

/** One quarantined object; NotFoundError when ingestion never refused it. */
export async function quarantinedObject(ctx: QuarantineContext, key: string): Promise<QuarantinedObject> {
  const result = await dynamoCall("read a quarantined object", () =>
    ctx.dynamo.send(new GetCommand({ TableName: ctx.tables.quarantine, Key: { object_key: key } })),
  );
  if (!result.Item) throw new NotFoundError(`${key} is not in the quarantine`);
  return quarantinedObjectSchema.parse(result.Item);
}
