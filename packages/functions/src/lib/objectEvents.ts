import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import middy from "@middy/core";
import type { S3Event, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { ingestObjects, type ObjectPipeline } from "@archive/core/deliveries/ingest";
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
 * A batch's objects are ingested together (core records them in one transaction); bad input is logged, counted and
 * acknowledged; any other failure fails its record.
 */
interface BatchObject {
  ref: ObjectRef;
  /** The SQS message that carried it. */
  messageId?: string;
}

/** Ingests the objects together, counts and logs each one's result, and returns the failures a retry may cure. */
async function ingestBatch<C extends AwsContext, O extends BatchObject>(
  ctx: C,
  pipeline: ObjectPipeline<C>,
  objects: readonly O[],
): Promise<{ object: O; error: unknown }[]> {
  const { log: logger, metrics } = ctx;
  const results = await ingestObjects(ctx, pipeline, objects.map((object) => object.ref));
  return objects.flatMap((object, i) => {
    const result = results[i];
    if (result && !("error" in result)) {
      metrics.addMetric("ObjectsProcessed", MetricUnit.Count, 1);
      return [];
    }
    const error = result ? result.error : new Error(`no result for ${object.ref.key}`);
    const context = { key: object.ref.key, ...(object.messageId ? { message_id: object.messageId } : {}), error: describeError(error) };
    if (isRetryable(error)) {
      metrics.addMetric("ObjectsFailed", MetricUnit.Count, 1);
      logger.error("object failed; its record will be retried", context);
      return [{ object, error }];
    }
    metrics.addMetric("ObjectsRejected", MetricUnit.Count, 1);
    logger.warn("object rejected and acknowledged", context);
    return [];
  });
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
  return middy<ObjectEvent, SQSBatchResponse | void>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics))
    .handler(async (event: ObjectEvent) => {
      if (!isSqsEvent(event)) {
        const [failure] = await ingestBatch(ctx, pipeline, parseRefs(ctx, () => objectRefsFromEvent(event)).map((ref) => ({ ref })));
        // Straight from S3 or EventBridge there is no partial response: the invocation fails, and is retried whole.
        if (failure) throw failure.error;
        return;
      }
      const failedIds = new Set<string>();
      const objects = event.Records.flatMap((record) => {
        if (Number(record.attributes.ApproximateReceiveCount) > 1) metrics.addMetric("RecordsRetried", MetricUnit.Count, 1);
        try {
          return parseRefs(ctx, () => objectRefsFromMessageBody(record.body)).map((ref) => ({ ref, messageId: record.messageId }));
        } catch (error) {
          logger.error("record failed; it will be retried", { message_id: record.messageId, error: describeError(error) });
          failedIds.add(record.messageId);
          return [];
        }
      });
      for (const failure of await ingestBatch(ctx, pipeline, objects)) failedIds.add(failure.object.messageId);
      return { batchItemFailures: [...failedIds].map((itemIdentifier) => ({ itemIdentifier })) };
    });
}
