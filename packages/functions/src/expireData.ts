import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import middy from "@middy/core";
import type { DynamoDBRecord, DynamoDBStreamEvent } from "aws-lambda";
import { expirationEntryFromStreamImage, expireEntry } from "@archive/core/expirations/expirations";
import { createArchiveContext } from "@archive/core/platform/archiveContext";
import { configFromEnvironment } from "@archive/core/platform/config";
import type { ArchiveContext } from "@archive/core/platform/context";
import { isRetryable } from "@archive/core/platform/errors";

/** Removals from data-expiration-tracker (TTL, sweep or old service; their old image) → expireEntry; a failure retries its record. */
export const createHandler = (ctx: ArchiveContext) => {
  const processor = new BatchProcessor(EventType.DynamoDBStreams);
  const expireRecord = async (record: DynamoDBRecord): Promise<void> => {
    if (record.eventName !== "REMOVE") return;
    try {
      await expireEntry(ctx, expirationEntryFromStreamImage(record.dynamodb?.OldImage));
    } catch (error) {
      if (isRetryable(error)) throw error;
      ctx.log.warn("stream record rejected and acknowledged", { event_id: record.eventID, error: String(error) });
    }
  };
  return middy<DynamoDBStreamEvent>()
    .use(injectLambdaContext(ctx.log, { resetKeys: true }))
    .use(logMetrics(ctx.metrics))
    .handler((event, context) =>
      processPartialResponse(event, expireRecord, processor, { context, throwOnFullBatchFailure: false }),
    );
};
export const handler = createHandler(createArchiveContext(configFromEnvironment()));
