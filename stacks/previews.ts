import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { ILayerVersion } from "aws-cdk-lib/aws-lambda";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import type { IBucket } from "aws-cdk-lib/aws-s3";
import type { ITopic } from "aws-cdk-lib/aws-sns";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import { Duration } from "aws-cdk-lib/core";
import type { Function, Stack } from "sst/constructs";
import type { ArchiveEnvironment } from "../packages/core/src/platform/config";
import { alarmOnDeadLetters } from "./alarms";
import { archiveFunction, type DatabaseAccess } from "./functions";

/**
 * bench/previews.ts: a 9576×6388 16-bit frame's preview (decode the .fits.fz, zscale, resize, encode) peaks at ~415 MB
 * of RSS and takes ~2.5 s of one core. 2048 MB leaves room for the .fits.bz2 fallback (the compressed file, the
 * inflated one and the image at once) and buys more than one vCPU: at 1024 MB the same work would take about twice as
 * long for the same GB-seconds.
 */
export const PREVIEWS_MEMORY_MB = 2048;
/**
 * The .fits.bz2 fallback (no .fits.fz) inflates ~120 MB with the JavaScript bzip2 decoder: measured 57 s and ~500 MB
 * peak for the bench frame on a busy 2-core machine; 180 s leaves room on a Lambda vCPU.
 */
const PREVIEWS_TIMEOUT_SECONDS = 180;

export interface FitsPreviewsProps {
  bucket: IBucket;
  environment: ArchiveEnvironment;
  database: DatabaseAccess;
  sharp: ILayerVersion;
  retainLogs: boolean;
  alarmTopic: ITopic;
  /** The data/ ingest function, which schedules the checks. */
  ingestData: Function;
}

/**
 * Previews from FITS: the data/ ingest function puts a delayed check on the previews queue when an exposure's FITS
 * file comes without a medium jpg; makePreviews makes the jpg from the FITS image when none came meanwhile. Its
 * function's own alarms and migration dependency are the Ingest stack's, as for every function there.
 */
export function fitsPreviews(stack: Stack, props: FitsPreviewsProps) {
  const deadLetters = new Queue(stack, "PreviewsDeadLetterQueue", {
    retentionPeriod: Duration.days(14),
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
  });
  const queue = new Queue(stack, "PreviewsQueue", {
    visibilityTimeout: Duration.seconds(PREVIEWS_TIMEOUT_SECONDS * 6),
    retentionPeriod: Duration.days(4),
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    deadLetterQueue: { queue: deadLetters, maxReceiveCount: 5 },
  });
  const makePreviews = archiveFunction(stack, "MakePreviews", {
    handler: "makePreviews",
    memorySize: PREVIEWS_MEMORY_MB,
    timeoutSeconds: PREVIEWS_TIMEOUT_SECONDS,
    environment: props.environment,
    database: props.database,
    connects: true,
    sharp: props.sharp,
    retainLogs: props.retainLogs,
    statements: [
      // Reads the FITS file, looks for a jpg (HEAD is GetObject's), writes the generated one; all under data/.
      new PolicyStatement({ actions: ["s3:GetObject", "s3:PutObject"], resources: [props.bucket.arnForObjects("data/*")] }),
      new PolicyStatement({
        actions: ["s3:ListBucket"],
        resources: [props.bucket.bucketArn],
        conditions: { StringLike: { "s3:prefix": ["data/*"] } },
      }),
    ],
  });
  // One frame per invocation: memory is sized for one full frame.
  makePreviews.addEventSource(new SqsEventSource(queue, { batchSize: 1, reportBatchItemFailures: true, maxConcurrency: 5 }));
  props.ingestData.addEnvironment("PREVIEWS_QUEUE_URL", queue.queueUrl);
  props.ingestData.attachPermissions([new PolicyStatement({ actions: ["sqs:SendMessage"], resources: [queue.queueArn] })]);
  alarmOnDeadLetters(stack, "PreviewsDeadLetterQueue", deadLetters, props.alarmTopic);
  return { queue, deadLetters, makePreviews };
}
