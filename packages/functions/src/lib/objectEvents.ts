import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import middy from "@middy/core";
import type { Context, S3Event, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { isRetryable } from "@archive/core/errors";
import { logger, metrics } from "@archive/core/logger";
import { isS3Notification, objectRefsFromEvent, objectRefsFromMessageBody, type ObjectRef } from "@archive/core/s3Events";

/**
 * The one adapter for S3 object notifications, from SQS batches (partial batch response: a failed record is retried
 * alone, then dead-lettered) or straight from S3. Bad input is logged, counted and acknowledged; any other failure
 * fails its record.
 */
export type ObjectHandler = (ref: ObjectRef) => Promise<unknown>;

const describe = (error: unknown) => (error instanceof Error ? `${error.name}: ${error.message}` : String(error));

async function handleRefs(refs: ObjectRef[], handleObject: ObjectHandler): Promise<void> {
  for (const ref of refs) {
    try {
      await handleObject(ref);
      metrics.addMetric("ObjectsProcessed", MetricUnit.Count, 1);
    } catch (error) {
      if (isRetryable(error)) {
        metrics.addMetric("ObjectsFailed", MetricUnit.Count, 1);
        logger.error("object failed; its record will be retried", { key: ref.key, error: describe(error) });
        throw error;
      }
      metrics.addMetric("ObjectsRejected", MetricUnit.Count, 1);
      logger.warn("object rejected and acknowledged", { key: ref.key, error: describe(error) });
    }
  }
}

function parseRefs(read: () => ObjectRef[]): ObjectRef[] {
  try {
    return read();
  } catch (error) {
    if (isRetryable(error)) throw error;
    metrics.addMetric("RecordsRejected", MetricUnit.Count, 1);
    logger.warn("not an S3 notification; acknowledged", { error: describe(error) });
    return [];
  }
}

function isSqsEvent(event: SQSEvent | S3Event): event is SQSEvent {
  return !isS3Notification(event);
}

export function objectEventHandler(handleObject: ObjectHandler) {
  const processor = new BatchProcessor(EventType.SQS);
  const recordHandler = async (record: SQSRecord): Promise<void> => {
    logger.appendKeys({ message_id: record.messageId });
    try {
      if (Number(record.attributes.ApproximateReceiveCount) > 1) metrics.addMetric("RecordsRetried", MetricUnit.Count, 1);
      await handleRefs(parseRefs(() => objectRefsFromMessageBody(record.body)), handleObject);
    } finally {
      logger.removeKeys(["message_id"]);
    }
  };
  return middy<SQSEvent | S3Event, SQSBatchResponse | void>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics))
    .handler(async (event: SQSEvent | S3Event, context: Context) => {
      if (!isSqsEvent(event)) return handleRefs(parseRefs(() => objectRefsFromEvent(event)), handleObject);
      // Records run one at a time: the logger's per-record keys stay right, and Lambda concurrency gives the scale.
      return processPartialResponse(event, recordHandler, processor, {
        context,
        processInParallel: false,
        throwOnFullBatchFailure: false,
      });
    });
}
