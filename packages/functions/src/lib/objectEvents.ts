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
import { quarantineObject } from "@archive/core/quarantine/quarantine";
import { describeError, MetricUnit } from "@archive/core/platform/logger";

/**
 * The one adapter for S3 object events, from SQS batches (partial batch response: a failed record is retried alone,
 * then dead-lettered) whose bodies are S3 notifications or EventBridge S3 events, or straight from S3 or EventBridge.
 * A batch's objects are ingested together (core records them in one transaction); bad input is logged, counted,
 * quarantined and acknowledged; any other failure fails its record (and is quarantined on its last receive).
 */
interface BatchObject {
  ref: ObjectRef;
  /** The SQS message that carried it. */
  messageId?: string;
  /** Its message's receives so far (ApproximateReceiveCount): on the queue's last one a failure is dead-lettered. */
  receiveCount?: number;
}

/**
 * Ingests the objects together, counts and logs each one's result, quarantines what is refused (bad input, or a
 * failure on its message's last receive), and returns the failures a retry may cure.
 */
async function ingestBatch<C extends AwsContext, O extends BatchObject>(
  ctx: C,
  pipeline: ObjectPipeline<C>,
  objects: readonly O[],
): Promise<{ object: O; error: unknown }[]> {
  const { log: logger, metrics } = ctx;
  const results = await ingestObjects(ctx, pipeline, objects.map((object) => object.ref));
  const failures: { object: O; error: unknown }[] = [];
  for (const [i, object] of objects.entries()) {
    const result = results[i];
    if (result && !("error" in result)) {
      metrics.addMetric("ObjectsProcessed", MetricUnit.Count, 1);
      continue;
    }
    const error = result ? result.error : new Error(`no result for ${object.ref.key}`);
    const context = { key: object.ref.key, ...(object.messageId ? { message_id: object.messageId } : {}), error: describeError(error) };
    const retryable = isRetryable(error);
    if (retryable) {
      metrics.addMetric("ObjectsFailed", MetricUnit.Count, 1);
      logger.error("object failed; its record will be retried", context);
      failures.push({ object, error });
    } else {
      metrics.addMetric("ObjectsRejected", MetricUnit.Count, 1);
      logger.warn("object rejected and acknowledged", context);
    }
    const lastReceive = object.receiveCount !== undefined && object.receiveCount >= ctx.config.INGEST_MAX_RECEIVE_COUNT;
    if (retryable && !lastReceive) continue;
    try {
      await quarantineObject(ctx, { key: object.ref.key, error, deadLettered: retryable });
    } catch (quarantineError) {
      // Unrecorded, a refusal is retried (and recorded then) rather than acknowledged.
      logger.error("the refusal could not be quarantined; its record will be retried", { ...context, cause: describeError(quarantineError) });
      if (!retryable) failures.push({ object, error: quarantineError });
    }
  }
  return failures;
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
          const receiveCount = Number(record.attributes.ApproximateReceiveCount);
          return parseRefs(ctx, () => objectRefsFromMessageBody(record.body)).map((ref) => ({ ref, messageId: record.messageId, receiveCount }));
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
