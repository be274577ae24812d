import { UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { AwsContext } from "../platform/context";
import { dynamoCall, dynamoFault, epochSeconds, isConditionFailure, updateIfCondition } from "../platform/dynamo";
import { noticeClaim, noticeClaimUpdate, type NoticeClaim } from "./notices";
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

/** The delivery's own update: its counts and object attributes, never over a newer event's (`:seq`). */
function deliveryUpdate(ref: ObjectRef, now: Date) {
  return {
    set:
      "#size = :size, etag = :etag, #seq = :seq, last_seen = :now, first_seen = if_not_exists(first_seen, :now), " +
      "expires_at = :ttl",
    add: "deliveries :one",
    condition: "attribute_not_exists(object_key) OR #seq <= :seq",
    names: { "#size": "size", "#seq": "sequencer" },
    values: {
      ":size": ref.size,
      ":etag": ref.eTag,
      ":seq": normalizeSequencer(ref.sequencer),
      ":now": now.toISOString(),
      ":ttl": epochSeconds(now) + RETENTION.deliveryRecordDays * 86_400,
      ":one": 1,
    },
  };
}

/** A recorded delivery; one to process holds the claim on its notice, unless another delivery of the event does. */
export type DeliveryStart =
  | { verdict: "process"; claim: NoticeClaim | undefined }
  | { verdict: Exclude<DeliveryVerdict, "process"> };

/**
 * Records a delivery and claims its notice in one conditional write, when it is the newest event of the object and
 * no other delivery of it holds the notice (the usual case: one call). Otherwise the delivery is recorded on its own,
 * as recordDelivery does, and a delivery to process goes on without the claim: its work is done, the notice is the
 * claimant's.
 */
export async function recordDeliveryAndClaim(
  ctx: Pick<AwsContext, "dynamo" | "tables">,
  ref: ObjectRef,
  now: Date,
): Promise<DeliveryStart> {
  const delivery = deliveryUpdate(ref, now);
  const claim = noticeClaim(ref, now);
  const claiming = noticeClaimUpdate(claim, now);
  const claimed = await updateIfCondition(ctx, "record a delivery and claim its notice", {
    TableName: ctx.tables.objectDeliveries,
    Key: { object_key: ref.key },
    UpdateExpression: `SET ${delivery.set}, ${claiming.set} ADD ${delivery.add}`,
    ConditionExpression: `(${delivery.condition}) AND ${claiming.condition}`,
    ExpressionAttributeNames: delivery.names,
    ExpressionAttributeValues: { ...delivery.values, ...claiming.values },
  });
  if (claimed) return { verdict: "process", claim };
  const verdict = await recordDelivery(ctx, ref, now);
  return verdict === "process" ? { verdict, claim: undefined } : { verdict };
}

/** Counts a delivery and decides whether it is to be processed; never lets an older event overwrite a newer one. */
export async function recordDelivery(
  ctx: Pick<AwsContext, "dynamo" | "tables">,
  ref: ObjectRef,
  now: Date,
): Promise<DeliveryVerdict> {
  const { dynamo } = ctx;
  const TableName = ctx.tables.objectDeliveries;
  const delivery = deliveryUpdate(ref, now);
  try {
    const result = await dynamo.send(
      new UpdateCommand({
        TableName,
        Key: { object_key: ref.key },
        UpdateExpression: `SET ${delivery.set} ADD ${delivery.add}`,
        ConditionExpression: delivery.condition,
        ExpressionAttributeNames: delivery.names,
        ExpressionAttributeValues: delivery.values,
        ReturnValues: "ALL_NEW",
      }),
    );
    const notified: unknown = result.Attributes?.["notified_sequencer"];
    return typeof notified === "string" && notified >= delivery.values[":seq"] ? "done" : "process";
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
