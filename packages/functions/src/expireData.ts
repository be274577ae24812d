import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import middy from "@middy/core";
import type { DynamoDBRecord, DynamoDBStreamEvent } from "aws-lambda";
import { isRetryable } from "@archive/core/errors";
import { expirationEntryFromStreamImage, expireEntry } from "@archive/core/expirations";
import { logger, metrics } from "@archive/core/logger";

/** Stream REMOVE records of data-expiration-tracker (TTL or sweep deletions) → expireEntry; a failure retries its record. */
const processor = new BatchProcessor(EventType.DynamoDBStreams);

async function expireRecord(record: DynamoDBRecord): Promise<void> {
  if (record.eventName !== "REMOVE") return;
  try {
    await expireEntry(expirationEntryFromStreamImage(record.dynamodb?.OldImage));
  } catch (error) {
    if (isRetryable(error)) throw error;
    logger.warn("stream record rejected and acknowledged", { event_id: record.eventID, error: String(error) });
  }
}

export const handler = middy<DynamoDBStreamEvent>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics))
  .handler((event, context) =>
    processPartialResponse(event, expireRecord, processor, { context, throwOnFullBatchFailure: false }),
  );
