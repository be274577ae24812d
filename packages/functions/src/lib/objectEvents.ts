import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import middy from "@middy/core";
import type { Context, S3Event, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { ingestObject, type ObjectPipeline } from "@archive/core/deliveries/ingest";
import {
  isS3EventBridgeEvent,
  isS3Notification,
  objectRefsFromEvent,
  objectRefsFromMessageBody,
  type ObjectRef,
  type S3EventBridgeEvent,
} from "@archive/core/deliveries/s3Events";
import type { AwsContext } from "@archive/core/platform/context";
import { isRetryable } from "@archive/core/platform/errors";
import { describeError, MetricUnit } from "@archive/core/platform/logger";

/**
 * The one adapter for S3 object events, from SQS batches (partial batch response: a failed record is retried alone,
 * then dead-lettered) whose bodies are S3 notifications or EventBridge S3 events, or straight from S3 or EventBridge.
 * Bad input is logged, counted and acknowledged; any other failure fails its record.
 */
async function handleRefs<C extends AwsContext>(ctx: C, refs: ObjectRef[], pipeline: ObjectPipeline<C>): Promise<void> {
  const { log: logger, metrics } = ctx;
  for (const ref of refs) {
    try {
      await ingestObject(ctx, pipeline, ref);
      metrics.addMetric("ObjectsProcessed", MetricUnit.Count, 1);
    } catch (error) {
      if (isRetryable(error)) {
        metrics.addMetric("ObjectsFailed", MetricUnit.Count, 1);
        logger.error("object failed; its record will be retried", { key: ref.key, error: describeError(error) });
        throw error;
      }
      metrics.addMetric("ObjectsRejected", MetricUnit.Count, 1);
      logger.warn("object rejected and acknowledged", { key: ref.key, error: describeError(error) });
    }
  }
}

function parseRefs(ctx: AwsContext, read: () => ObjectRef[]): ObjectRef[] {
  const { log: logger, metrics } = ctx;
  try {
    return read();
  } catch (error) {
    if (isRetryable(error)) throw error;
    metrics.addMetric("RecordsRejected", MetricUnit.Count, 1);
    logger.warn("not an S3 object event; acknowledged", { error: describeError(error) });
    return [];
  }
}

type ObjectEvent = SQSEvent | S3Event | S3EventBridgeEvent;

function isSqsEvent(event: ObjectEvent): event is SQSEvent {
  return !isS3Notification(event) && !isS3EventBridgeEvent(event);
}

/** The handler of one ingest function: its context and its prefix's pipeline, bound once per process. */
export function objectEventHandler<C extends AwsContext>(ctx: C, pipeline: ObjectPipeline<C>) {
  const { log: logger, metrics } = ctx;
  const processor = new BatchProcessor(EventType.SQS);
  const recordHandler = async (record: SQSRecord): Promise<void> => {
    logger.appendKeys({ message_id: record.messageId });
    try {
      if (Number(record.attributes.ApproximateReceiveCount) > 1) metrics.addMetric("RecordsRetried", MetricUnit.Count, 1);
      await handleRefs(ctx, parseRefs(ctx, () => objectRefsFromMessageBody(record.body)), pipeline);
    } finally {
      logger.removeKeys(["message_id"]);
    }
  };
  return middy<ObjectEvent, SQSBatchResponse | void>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics))
    .handler(async (event: ObjectEvent, context: Context) => {
      if (!isSqsEvent(event)) return handleRefs(ctx, parseRefs(ctx, () => objectRefsFromEvent(event)), pipeline);
      // Records run one at a time: the logger's per-record keys stay right, and Lambda concurrency gives the scale.
      return processPartialResponse(event, recordHandler, processor, {
        context,
        processInParallel: false,
        throwOnFullBatchFailure: false,
      });
    });
}
