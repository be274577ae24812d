import { SendMessageCommand } from "@aws-sdk/client-sqs";
import { z } from "zod";
import type { AwsContext } from "../platform/context";
import { updateIfCondition } from "../platform/dynamo";
import { TransientError } from "../platform/errors";
import { normalizeSequencer, type ObjectRef } from "./s3Events";

/** The message the websocket datastreamer forwards to the frontend (the replaced system's shape, kept exactly). */
export const imageNoticeSchema = z.object({
  topic: z.literal("imagedata"),
  site: z.string(),
  data: z.object({
    s3_directory: z.enum(["data", "info-images", "allsky"]),
    base_filename: z.string(),
    site: z.string(),
    channel: z.number().int().min(1).max(3).optional(),
  }),
});
export type ImageNotice = z.infer<typeof imageNoticeSchema>;

export function imageNotice(
  directory: ImageNotice["data"]["s3_directory"],
  site: string,
  baseFilename: string,
  channel?: number,
): ImageNotice {
  return {
    topic: "imagedata",
    site,
    data: { s3_directory: directory, base_filename: baseFilename, site, ...(channel === undefined ? {} : { channel }) },
  };
}

type NoticeContext = Pick<AwsContext, "dynamo" | "tables" | "sqs" | "config">;

/**
 * Sends the notice of an event whose work is done, under the claim its delivery took (recordDeliveryAndClaim), then
 * records it as sent; a failed send gives the claim back so the retry sends it. Returns whether it was sent. At least
 * once: a crash between sending and recording sends it twice, a lost notice never. With SEND_NOTICES off (shadow
 * mode) the claim and the record are kept, so deliveries finish exactly as they would, and nothing is sent (false).
 */
export async function sendClaimedNotice(
  ctx: NoticeContext,
  ref: ObjectRef,
  claim: NoticeClaim,
  notice: ImageNotice,
  now: Date,
): Promise<boolean> {
  try {
    if (ctx.config.SEND_NOTICES) await notify(ctx, notice);
  } catch (error) {
    await releaseNoticeClaim(ctx, ref, claim);
    throw error;
  }
  await recordNotified(ctx, ref, now);
  return ctx.config.SEND_NOTICES;
}

/** Sends a notice to the datastreamer's queue; a failure is transient (the record is retried). */
export async function notify(ctx: Pick<AwsContext, "sqs" | "config">, notice: ImageNotice): Promise<void> {
  try {
    await ctx.sqs.send(new SendMessageCommand({ QueueUrl: ctx.config.DATASTREAM_QUEUE_URL, MessageBody: JSON.stringify(notice) }));
  } catch (error) {
    throw new TransientError(`SQS: cannot notify the datastreamer: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
}

/**
 * Claimed as a delivery starts (with its record): longer than the ingest function's 60 s timeout, which bounds the
 * whole batch, and shorter than its queue's 6-minute visibility timeout.
 */
export const NOTICE_LEASE_MS = 2 * 60_000;

/** The right to send one event's notice, until `until` (epoch ms). */
export interface NoticeClaim {
  sequencer: string;
  until: number;
}

/** The claim a delivery of `ref` takes at `now`. */
export function noticeClaim(ref: ObjectRef, now: Date): NoticeClaim {
  return { sequencer: normalizeSequencer(ref.sequencer), until: now.getTime() + NOTICE_LEASE_MS };
}

/**
 * The claim as a DynamoDB update of the delivery item: its assignments, the condition that the event's notice is
 * neither sent nor held by a live claim of this or a newer event, and their values (`:seq` is the claim's sequencer).
 */
export function noticeClaimUpdate(claim: NoticeClaim, now: Date) {
  return {
    set: "notice_claim_sequencer = :seq, notice_claim_until = :claim_until",
    condition:
      "(attribute_not_exists(notified_sequencer) OR notified_sequencer < :seq) AND " +
      "(attribute_not_exists(notice_claim_sequencer) OR notice_claim_sequencer < :seq OR notice_claim_until < :now_ms)",
    values: { ":seq": claim.sequencer, ":claim_until": claim.until, ":now_ms": now.getTime() },
  };
}

/**
 * Claims the notice of an event already recorded (recordDeliveryAndClaim claims it with the record itself): of
 * concurrent deliveries exactly one gets the claim and sends it. A claim not followed by recordNotified (the Lambda
 * died) expires after NOTICE_LEASE_MS, so the retried delivery reclaims it.
 */
export async function claimNotice(
  ctx: Pick<AwsContext, "dynamo" | "tables">,
  ref: ObjectRef,
  now: Date,
): Promise<NoticeClaim | undefined> {
  const claim = noticeClaim(ref, now);
  const update = noticeClaimUpdate(claim, now);
  const claimed = await updateIfCondition(ctx, "claim a delivery's notice", {
    TableName: ctx.tables.objectDeliveries,
    Key: { object_key: ref.key },
    UpdateExpression: `SET ${update.set}`,
    ConditionExpression: `attribute_exists(object_key) AND ${update.condition}`,
    ExpressionAttributeValues: update.values,
  });
  return claimed ? claim : undefined;
}

/** Records the claimed notice as sent; a newer event's notice already recorded supersedes this one. */
async function recordNotified(ctx: Pick<AwsContext, "dynamo" | "tables">, ref: ObjectRef, now: Date): Promise<void> {
  await updateIfCondition(ctx, "record a delivery's notice as sent", {
    TableName: ctx.tables.objectDeliveries,
    Key: { object_key: ref.key },
    UpdateExpression: "SET notified_sequencer = :seq, notified_at = :now",
    ConditionExpression: "attribute_not_exists(notified_sequencer) OR notified_sequencer < :seq",
    ExpressionAttributeValues: { ":seq": normalizeSequencer(ref.sequencer), ":now": now.toISOString() },
  });
}

/**
 * Gives up a claim whose notice could not be sent (or whose work failed), so the retried delivery claims it at once.
 * A claim another delivery holds now (a newer event, or this one's after the lease) is theirs to keep.
 */
export async function releaseNoticeClaim(
  ctx: Pick<AwsContext, "dynamo" | "tables">,
  ref: ObjectRef,
  claim: NoticeClaim,
): Promise<void> {
  await updateIfCondition(ctx, "release a delivery's notice claim", {
    TableName: ctx.tables.objectDeliveries,
    Key: { object_key: ref.key },
    UpdateExpression: "REMOVE notice_claim_sequencer, notice_claim_until",
    ConditionExpression: "notice_claim_sequencer = :seq AND notice_claim_until = :until",
    ExpressionAttributeValues: { ":seq": claim.sequencer, ":until": claim.until },
  });
}
