import { UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { awsClients } from "./aws";
import { dynamoCall, dynamoFault, epochSeconds, isConditionFailure, tableName, updateIfCondition } from "./dynamo";
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

const DELIVERY_RETENTION_DAYS = 14;
/** Longer than the ingest function's 60 s timeout, shorter than its queue's 6-minute visibility timeout. */
export const NOTICE_LEASE_MS = 2 * 60_000;

/** The right to send one event's notice, until `until` (epoch ms). */
export interface NoticeClaim {
  sequencer: string;
  until: number;
}

/** Counts a delivery and decides whether it is to be processed; never lets an older event overwrite a newer one. */
export async function recordDelivery(ref: ObjectRef, now = new Date()): Promise<DeliveryVerdict> {
  const { dynamo } = awsClients();
  const TableName = tableName("objectDeliveries");
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
          ":ttl": epochSeconds(now) + DELIVERY_RETENTION_DAYS * 86_400,
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

/**
 * Claims the event's notice after its work: of concurrent deliveries exactly one gets the claim and sends it. A claim
 * not followed by recordNotified (the Lambda died) expires after NOTICE_LEASE_MS, so the retried delivery reclaims it.
 */
export async function claimNotice(ref: ObjectRef, now = new Date()): Promise<NoticeClaim | undefined> {
  const claim = { sequencer: normalizeSequencer(ref.sequencer), until: now.getTime() + NOTICE_LEASE_MS };
  const claimed = await updateIfCondition("claim a delivery's notice", {
    TableName: tableName("objectDeliveries"),
    Key: { object_key: ref.key },
    UpdateExpression: "SET notice_claim_sequencer = :seq, notice_claim_until = :until",
    ConditionExpression:
      "attribute_exists(object_key) AND (attribute_not_exists(notified_sequencer) OR notified_sequencer < :seq) AND " +
      "(attribute_not_exists(notice_claim_sequencer) OR notice_claim_sequencer < :seq OR notice_claim_until < :now)",
    ExpressionAttributeValues: { ":seq": claim.sequencer, ":until": claim.until, ":now": now.getTime() },
  });
  return claimed ? claim : undefined;
}

/** Records the claimed notice as sent; a newer event's notice already recorded supersedes this one. */
export async function recordNotified(ref: ObjectRef, now = new Date()): Promise<void> {
  await updateIfCondition("record a delivery's notice as sent", {
    TableName: tableName("objectDeliveries"),
    Key: { object_key: ref.key },
    UpdateExpression: "SET notified_sequencer = :seq, notified_at = :now",
    ConditionExpression: "attribute_not_exists(notified_sequencer) OR notified_sequencer < :seq",
    ExpressionAttributeValues: { ":seq": normalizeSequencer(ref.sequencer), ":now": now.toISOString() },
  });
}

/**
 * Gives up a claim whose notice could not be sent, so the retried delivery claims it at once. A claim another
 * delivery holds now (a newer event, or this one's after the lease) is theirs to keep.
 */
export async function releaseNoticeClaim(ref: ObjectRef, claim: NoticeClaim): Promise<void> {
  await updateIfCondition("release a delivery's notice claim", {
    TableName: tableName("objectDeliveries"),
    Key: { object_key: ref.key },
    UpdateExpression: "REMOVE notice_claim_sequencer, notice_claim_until",
    ConditionExpression: "notice_claim_sequencer = :seq AND notice_claim_until = :until",
    ExpressionAttributeValues: { ":seq": claim.sequencer, ":until": claim.until },
  });
}
