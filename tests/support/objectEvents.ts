import type { Context, S3Event, S3EventRecord, SQSEvent, SQSRecord } from "aws-lambda";
import { isKnownFile, parseObjectKey, type KnownObjectKey } from "@archive/core/names/fileName";
import type { S3EventBridgeEvent } from "@archive/core/deliveries/s3Events";
import type { AwsContext } from "@archive/core/platform/context";
import { putObject as writeObject } from "@archive/core/platform/s3";
import { encodeS3EventKey } from "@archive/local/s3Server";
import eventBridgeFixture from "../fixtures/events/eventbridge-s3-object-created.json";
import s3Fixture from "../fixtures/events/s3-object-created.json";
import sqsFixture from "../fixtures/events/sqs-s3-notification.json";

// Real event shapes (the JSON fixtures) filled in for objects a test writes to s3rver.

export interface StoredObject {
  bucket: string;
  key: string;
  size: number;
  eTag: string;
  sequencer: string;
  eventTime: string;
}

let sequence = 0n;
/** S3 sequencers grow per key; hex of a process-wide counter on top of the clock keeps them growing here too. */
export function nextSequencer(): string {
  sequence += 1n;
  return (BigInt(Date.now()) * 1_000_000n + sequence).toString(16).toUpperCase();
}

/** Writes an object to the context's bucket and describes it as its S3 event would. */
export async function putObject(
  ctx: Pick<AwsContext, "s3" | "config">,
  key: string,
  body: Buffer | string,
  options: { eventTime?: Date; contentType?: string } = {},
): Promise<StoredObject> {
  const bytes = typeof body === "string" ? Buffer.from(body) : body;
  const eTag = await writeObject(ctx, key, bytes, options.contentType ?? "application/octet-stream");
  return {
    bucket: ctx.config.BUCKET_NAME,
    key,
    size: bytes.length,
    eTag,
    sequencer: nextSequencer(),
    eventTime: (options.eventTime ?? new Date()).toISOString(),
  };
}

/** A key of a file the archive reads (txt, jpg, fits), parsed, as the ingestion pipelines are given it. */
export function knownObjectKey(key: string): KnownObjectKey {
  const file = parseObjectKey(key);
  if (!isKnownFile(file)) throw new Error(`${key} is not a file the archive reads`);
  return file;
}

/** An object that is not in the bucket (never uploaded, or gone). */
export function missingObject(bucket: string, key: string): StoredObject {
  return { bucket, key, size: 10, eTag: "0", sequencer: nextSequencer(), eventTime: new Date().toISOString() };
}

function fixtureRecord(): S3EventRecord {
  const record = s3Fixture.Records[0];
  if (!record) throw new Error("the S3 fixture has no record");
  return record;
}

export function s3Notification(objects: StoredObject[]): S3Event {
  const template = fixtureRecord();
  return {
    Records: objects.map((object) => ({
      ...template,
      eventTime: object.eventTime,
      s3: {
        ...template.s3,
        bucket: { ...template.s3.bucket, name: object.bucket, arn: `arn:aws:s3:::${object.bucket}` },
        object: { key: encodeS3EventKey(object.key), size: object.size, eTag: object.eTag, sequencer: object.sequencer },
      },
    })),
  };
}

let messages = 0;
export interface BatchMessage {
  body: unknown;
  receiveCount?: number;
}

/** An SQS batch; each message's body is JSON of the given value (an S3 notification, usually). */
export function sqsBatch(bodies: BatchMessage[]): SQSEvent {
  const template: SQSRecord | undefined = sqsFixture.Records[0];
  if (!template) throw new Error("the SQS fixture has no record");
  return {
    Records: bodies.map((message) => ({
      ...template,
      messageId: `message-${++messages}`,
      body: JSON.stringify(message.body),
      attributes: { ...template.attributes, ApproximateReceiveCount: String(message.receiveCount ?? 1) },
    })),
  };
}

/** One message per object, as S3 → SQS delivers them. */
export function sqsBatchOf(objects: StoredObject[]): SQSEvent {
  return sqsBatch(objects.map((object) => ({ body: s3Notification([object]) })));
}

/** S3's EventBridge event of one object: the key as is (EventBridge does not URL-encode it), the time to the second. */
export function eventBridgeEvent(object: StoredObject): S3EventBridgeEvent {
  return {
    ...eventBridgeFixture,
    source: "aws.s3",
    time: `${object.eventTime.slice(0, 19)}Z`,
    detail: {
      ...eventBridgeFixture.detail,
      bucket: { name: object.bucket },
      object: { key: object.key, size: object.size, etag: object.eTag, sequencer: object.sequencer },
    },
  };
}

/** One message per object, as an EventBridge rule with a queue target delivers them. */
export function sqsBatchOfEventBridge(objects: StoredObject[]): SQSEvent {
  return sqsBatch(objects.map((object) => ({ body: eventBridgeEvent(object) })));
}

export function lambdaContext(name = "test-function"): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: name,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${name}`,
    memoryLimitInMB: "1024",
    awsRequestId: "c6af9ac6-7b61-11e6-9a41-93e812345678",
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: "2022/06/29/[$LATEST]abcdef",
    getRemainingTimeInMillis: () => 60_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
