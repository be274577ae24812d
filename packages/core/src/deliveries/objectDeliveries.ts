import { UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { AwsContext } from "../platform/context";
import { dynamoCall, dynamoFault, epochSeconds, isConditionFailure } from "../platform/dynamo";
import { RETENTION } from "./retention";
import { normalizeSequencer, type ObjectRef } from "./s3Events";

/**
 * One item per S3 object: size, ETag, the newest sequencer seen, first and last seen, how many deliveries, the
 * sequencer whose notice was sent (`notified_sequencer`) and the current notice claim (`notice_claim_sequencer` until
 * `notice_claim_until`, epoch ms). S3 delivers at least once and in any order; the sequencer decides.
 */
export type DeliveryVerdict =
  /** The newest event of the object, its notice not yet sent: do the work. */
  | "process"
  /** This very event's notice was already sent: nothing to do, no second notice. */
  | "done"
  /** A newer event of the object exists; it (re)does the work. */
  | "stale";

/** Counts a delivery and decides whether it is to be processed; never lets an older event overwrite a newer one. */
export async function recordDelivery(
  ctx: Pick<AwsContext, "dynamo" | "tables">,
  ref: ObjectRef,
  now: Date,
): Promise<DeliveryVerdict> {
  const { dynamo } = ctx;
  const TableName = ctx.tables.objectDeliveries;
  const sequencer = normalizeSequencer(ref.sequencer);
  try {
    const result = await dynamo.send(
      new UpdateCommand({
        TableName,
        Key: { object_key: ref.key },
        UpdateExpression:
          "SET #size = :size, etag = :etag, #seq = :seq, last_seen = :now, first_seen = if_not_exists(first_seen, :now), " +
          "expires_at = :ttl ADD deliveries :one",
        ConditionExpression: "attribute_not_exists(object_key) OR #seq <= :seq",
        ExpressionAttributeNames: { "#size": "size", "#seq": "sequencer" },
        ExpressionAttributeValues: {
          ":size": ref.size,
          ":etag": ref.eTag,
          ":seq": sequencer,
          ":now": now.toISOString(),
          ":ttl": epochSeconds(now) + RETENTION.deliveryRecordDays * 86_400,
          ":one": 1,
        },
        ReturnValues: "ALL_NEW",
      }),
    );
    const notified: unknown = result.Attributes?.["notified_sequencer"];
    return typeof notified === "string" && notified >= sequencer ? "done" : "process";
  } catch (error) {
    if (!isConditionFailure(error)) throw dynamoFault("record a delivery", error);
  }
  await dynamoCall("count a stale delivery", () =>
    dynamo.send(
      new UpdateCommand({
        TableName,
        Key: { object_key: ref.key },
        UpdateExpression: "SET last_seen = :now ADD deliveries :one, stale_deliveries :one",
        ExpressionAttributeValues: { ":now": now.toISOString(), ":one": 1 },
      }),
    ),
  );
  return "stale";
}
