import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { Context, S3EventRecord, SQSRecord } from "aws-lambda";
import type { LocalS3Notification } from "./s3Server";

/**
 * The events AWS would hand the Lambdas, built byte-for-byte in their real shapes: an S3 notification record (key
 * URL-encoded, a per-process increasing sequencer) inside an SQS record, and a Lambda context.
 */
const ACCOUNT = "000000000000";

let lastMillis = 0;
let sameMillisCount = 0;

/**
 * S3's sequencer is a hex token that increases for successive events on a key. Milliseconds since the epoch plus a
 * counter within the millisecond keep that order here, also across restarts (the clock moves on).
 */
export function nextSequencer(now = Date.now()): string {
  if (now <= lastMillis) {
    sameMillisCount += 1;
  } else {
    lastMillis = now;
    sameMillisCount = 0;
  }
  return `${lastMillis.toString(16).padStart(12, "0")}${sameMillisCount.toString(16).padStart(6, "0")}`.toUpperCase();
}

type LocalS3Record = LocalS3Notification["Records"][number];

/** One S3 notification record as S3 sends it to SQS, from s3rver's (already key-encoded) record. */
export function s3EventRecord(record: LocalS3Record, configurationId: string): S3EventRecord {
  return {
    eventVersion: "2.1",
    eventSource: "aws:s3",
    awsRegion: record.awsRegion,
    eventTime: record.eventTime,
    eventName: record.eventName,
    userIdentity: { principalId: "AWS:LOCALARCHIVE" },
    requestParameters: { sourceIPAddress: "127.0.0.1" },
    responseElements: {
      "x-amz-request-id": randomBytes(8).toString("hex").toUpperCase(),
      "x-amz-id-2": randomBytes(48).toString("base64"),
    },
    s3: {
      s3SchemaVersion: "1.0",
      configurationId,
      bucket: {
        name: record.s3.bucket.name,
        ownerIdentity: { principalId: "LOCALARCHIVE" },
        arn: `arn:aws:s3:::${record.s3.bucket.name}`,
      },
      object: {
        key: record.s3.object.key,
        size: record.s3.object.size ?? 0,
        eTag: record.s3.object.eTag ?? "",
        sequencer: nextSequencer(),
      },
    },
  };
}

export function queueArn(region: string, queueName: string): string {
  return `arn:aws:sqs:${region}:${ACCOUNT}:${queueName}`;
}

export interface QueuedMessage {
  messageId: string;
  body: string;
  sentAt: number;
  firstReceivedAt?: number;
  receiveCount: number;
  /** A delayed message (SQS DelaySeconds): not delivered before this time (epoch ms), also after a restart. */
  visibleAt?: number;
}

export function newMessage(body: string, now = Date.now()): QueuedMessage {
  return { messageId: randomUUID(), body, sentAt: now, receiveCount: 0 };
}

/** An SQS record as the Lambda event source mapping delivers it. */
export function sqsRecord(message: QueuedMessage, region: string, queueName: string): SQSRecord {
  return {
    messageId: message.messageId,
    receiptHandle: randomBytes(32).toString("base64"),
    body: message.body,
    attributes: {
      ApproximateReceiveCount: String(message.receiveCount),
      SentTimestamp: String(message.sentAt),
      SenderId: "AIDALOCALARCHIVE",
      ApproximateFirstReceiveTimestamp: String(message.firstReceivedAt ?? message.sentAt),
    },
    messageAttributes: {},
    md5OfBody: createHash("md5").update(message.body, "utf8").digest("hex"),
    eventSource: "aws:sqs",
    eventSourceARN: queueArn(region, queueName),
    awsRegion: region,
  };
}

/** A Lambda context for one invocation; the local archive has no deadline, so the remaining time is generous. */
export function lambdaContext(functionName: string, timeoutSeconds = 60): Context {
  const deadline = Date.now() + timeoutSeconds * 1000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:us-east-1:${ACCOUNT}:function:${functionName}`,
    memoryLimitInMB: "1024",
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: "local",
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
