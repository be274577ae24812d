import { UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { awsClients } from "./aws";
import { dynamoCall, dynamoFault, epochSeconds, isConditionFailure, tableName } from "./dynamo";
import { normalizeSequencer, type ObjectRef } from "./s3Events";

/**
 * One item per S3 object: size, ETag, the newest sequencer seen, first and last seen, how many deliveries, and the
 * sequencer whose work (and notice) is done. S3 delivers at least once and in any order; the sequencer decides.
 */
export type DeliveryVerdict =
  /** The newest event of the object, not yet fully processed: do the work. */
  | "process"
  /** This very event was already fully processed: nothing to do, no second notice. */
  | "done"
  /** A newer event of the object exists; it (re)does the work. */
  | "stale";

const DELIVERY_RETENTION_DAYS = 14;

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
    return result.Attributes?.["processed_sequencer"] === sequencer ? "done" : "process";
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
 * Marks the event's work done, at the very end. Of concurrent deliveries of one event exactly one wins (true) and
 * sends the notice; the others get false.
 */
export async function markProcessed(ref: ObjectRef, now = new Date()): Promise<boolean> {
  const { dynamo } = awsClients();
  try {
    await dynamo.send(
      new UpdateCommand({
        TableName: tableName("objectDeliveries"),
        Key: { object_key: ref.key },
        UpdateExpression: "SET processed_sequencer = :seq, processed_at = :now",
        ConditionExpression: "attribute_not_exists(processed_sequencer) OR processed_sequencer < :seq",
        ExpressionAttributeValues: { ":seq": normalizeSequencer(ref.sequencer), ":now": now.toISOString() },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw dynamoFault("mark a delivery processed", error);
  }
}

/** Undoes markProcessed when the notice could not be sent, so the retried delivery sends it. */
export async function releaseProcessed(ref: ObjectRef): Promise<void> {
  const { dynamo } = awsClients();
  try {
    await dynamo.send(
      new UpdateCommand({
        TableName: tableName("objectDeliveries"),
        Key: { object_key: ref.key },
        UpdateExpression: "REMOVE processed_sequencer, processed_at",
        ConditionExpression: "processed_sequencer = :seq",
        ExpressionAttributeValues: { ":seq": normalizeSequencer(ref.sequencer) },
      }),
    );
  } catch (error) {
    // A newer event took over the object meanwhile; its own notice is then the one that counts.
    if (isConditionFailure(error)) return;
    throw dynamoFault("release a processed delivery", error);
  }
}
