import { SendMessageCommand } from "@aws-sdk/client-sqs";
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { ingestRouteOf, type IngestRoute } from "../deliveries/pipelines";
import { reingestSequencer } from "../deliveries/s3Events";
import type { ArchiveConfig } from "../platform/config";
import type { AwsContext } from "../platform/context";
import { dynamoCall } from "../platform/dynamo";
import { ArchiveError, NotFoundError, TransientError } from "../platform/errors";
import { headObject, type ObjectHead } from "../platform/s3";
import { listQuarantine, markReingested } from "./quarantine";

/**
 * Re-ingestion: an object goes through ingestion again exactly as a fresh S3 event sends it, the one path of
 * POST /reingest, the CLI and the reconciler. Its head (size, ETag, last modified) is read, then an S3 notification
 * of it is sent to its prefix's ingest queue, with a sequencer just after the one its delivery record holds
 * (reingestSequencer): the delivery dedup processes it again, and a newer upload's event still wins.
 */
export type ReingestStatus =
  /** Sent to its ingest queue. */
  | "sent"
  /** Not in the bucket: nothing to ingest. */
  | "gone"
  /** Under no prefix the archive ingests. */
  | "refused";

export interface ReingestOutcome {
  key: string;
  status: ReingestStatus;
  sequencer?: string;
}

export interface ReingestReport {
  requested: number;
  sent: number;
  gone: number;
  refused: number;
  objects: ReingestOutcome[];
}

/** What is already known of an object (the reconciler's listing and batch read): not asked again. */
export interface KnownObject {
  head?: ObjectHead;
  /** The delivery record's sequencer (normalized), null when the object has no record. */
  recordedSequencer?: string | null;
}

/** The setting holding each ingest route's queue URL (the stacks and the local archive set them from it). */
export const INGEST_QUEUE_SETTINGS = {
  ingestData: "DATA_INGEST_QUEUE_URL",
  ingestInfoImages: "INFO_IMAGES_INGEST_QUEUE_URL",
  ingestAllsky: "ALLSKY_INGEST_QUEUE_URL",
} as const satisfies Record<IngestRoute["functionName"], keyof ArchiveConfig>;

/** How many objects are re-ingested at once. */
const CONCURRENCY = 8;

function queueUrlOf(config: ArchiveConfig, route: IngestRoute): string {
  const setting = INGEST_QUEUE_SETTINGS[route.functionName];
  const url = config[setting];
  if (typeof url !== "string") throw new ArchiveError(`re-ingestion needs ${setting}, which this stage does not set`, "not_configured", false, 503);
  return url;
}

/** S3's key encoding in notifications: form-encoded, slashes kept (decodeS3EventKey reverses it). */
function encodeEventKey(key: string): string {
  return encodeURIComponent(key).replace(/%20/g, "+").replace(/%2F/g, "/");
}

/** The body S3 would send to the queue for this object's creation. */
export function objectCreatedNotification(
  config: Pick<ArchiveConfig, "BUCKET_NAME" | "AWS_REGION">,
  key: string,
  head: ObjectHead,
  sequencer: string,
  eventTime: Date,
): string {
  return JSON.stringify({
    Records: [
      {
        eventVersion: "2.1",
        eventSource: "aws:s3",
        awsRegion: config.AWS_REGION,
        eventTime: eventTime.toISOString(),
        eventName: "ObjectCreated:Put",
        userIdentity: { principalId: "archive-reingest" },
        requestParameters: { sourceIPAddress: "127.0.0.1" },
        responseElements: { "x-amz-request-id": "reingest", "x-amz-id-2": "reingest" },
        s3: {
          s3SchemaVersion: "1.0",
          configurationId: "reingest",
          bucket: { name: config.BUCKET_NAME, ownerIdentity: { principalId: "archive" }, arn: `arn:aws:s3:::${config.BUCKET_NAME}` },
          object: { key: encodeEventKey(key), size: head.size, eTag: head.eTag, sequencer },
        },
      },
    ],
  });
}

async function recordedSequencer(ctx: Pick<AwsContext, "dynamo" | "tables">, key: string): Promise<string | undefined> {
  const result = await dynamoCall("read an object's delivery record", () =>
    ctx.dynamo.send(
      new GetCommand({
        TableName: ctx.tables.objectDeliveries,
        Key: { object_key: key },
        ProjectionExpression: "#seq",
        ExpressionAttributeNames: { "#seq": "sequencer" },
      }),
    ),
  );
  const sequencer: unknown = result.Item?.["sequencer"];
  return typeof sequencer === "string" ? sequencer : undefined;
}

/** Re-ingests one object; a missing object is "gone", one under no ingested prefix "refused". */
export async function reingestObject(ctx: AwsContext, key: string, known: KnownObject = {}): Promise<ReingestOutcome> {
  const route = ingestRouteOf(key);
  if (!route) return { key, status: "refused" };
  const queueUrl = queueUrlOf(ctx.config, route);
  let head: ObjectHead;
  try {
    head = known.head ?? (await headObject(ctx, key));
  } catch (error) {
    if (error instanceof NotFoundError) return { key, status: "gone" };
    throw error;
  }
  const recorded = known.recordedSequencer === undefined ? await recordedSequencer(ctx, key) : (known.recordedSequencer ?? undefined);
  const sequencer = reingestSequencer(recorded);
  const body = objectCreatedNotification(ctx.config, key, head, sequencer, head.lastModified ?? ctx.clock());
  try {
    await ctx.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
  } catch (error) {
    throw new TransientError(`SQS: cannot send ${key} to its ingest queue: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
  await markReingested(ctx, key);
  ctx.log.info("object re-ingested", { key, sequencer });
  return { key, status: "sent", sequencer };
}

/** `work` on every item, at most `concurrency` at a time; the results in the items' order. */
export async function mapConcurrently<T, R>(items: readonly T[], concurrency: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    for (let index = next++; index < items.length; index = next++) results[index] = await work(items[index] as T);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

/** Re-ingests objects, a few at a time; one report of them all, in the order given. */
export async function reingestObjects(
  ctx: AwsContext,
  objects: readonly { key: string; known?: KnownObject }[],
): Promise<ReingestReport> {
  const outcomes = await mapConcurrently(objects, CONCURRENCY, (object) => reingestObject(ctx, object.key, object.known));
  const count = (status: ReingestStatus) => outcomes.filter((outcome) => outcome.status === status).length;
  return { requested: objects.length, sent: count("sent"), gone: count("gone"), refused: count("refused"), objects: outcomes };
}

export type ReingestRequest = { keys: readonly string[] } | { quarantined: true; since?: Date; site?: string };

/** POST /reingest: the keys named, or every object still quarantined (since a time, of a site). */
export async function reingest(ctx: AwsContext, request: ReingestRequest): Promise<ReingestReport> {
  const keys =
    "keys" in request
      ? request.keys
      : (
          await listQuarantine(ctx, {
            quarantinedOnly: true,
            ...(request.since ? { since: request.since } : {}),
            ...(request.site ? { site: request.site } : {}),
          })
        ).map((object) => object.object_key);
  return reingestObjects(ctx, [...new Set(keys)].map((key) => ({ key })));
}
