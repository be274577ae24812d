import {
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
} from "@aws-sdk/client-sqs";
import { objectRefsFromMessageBody } from "@archive/core/deliveries/s3Events";
import { z } from "zod";
import { requestArchive } from "./operations";

/**
 * `archive dlq list|redrive`: the messages ingestion gave up on, and putting them back. Against the local archive
 * (its /dlq and /dlq/redrive) or a deployed stage's dead-letter queue (a `…DeadLetterQueueUrl` output of its Ingest
 * stack), with the operator's AWS credentials.
 */
export type DeadLetterTarget = { api: string } | { queueUrl: string };

export interface DeadLetterSummary {
  messageId: string;
  keys: string[];
  receiveCount: number;
  reason?: string;
  failedAt?: string;
}

export interface DeadLetterListing {
  /** All messages waiting (a deployed queue's approximate count). */
  count: number;
  /** The local archive's every letter; on a stage, a sample of up to 10 (SQS shows no more at once). */
  letters: DeadLetterSummary[];
}

const localLetterSchema = z.object({
  messageId: z.string(),
  keys: z.array(z.string()),
  receiveCount: z.number(),
  reason: z.string(),
  failedAt: z.string(),
});

export async function listDeadLetters(target: DeadLetterTarget): Promise<DeadLetterListing> {
  if ("api" in target) {
    const letters = z.array(localLetterSchema).parse(await requestArchive(target, "GET", "/dlq"));
    return { count: letters.length, letters };
  }
  const sqs = new SQSClient({});
  try {
    const attributes = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: target.queueUrl, AttributeNames: ["ApproximateNumberOfMessages"] }),
    );
    // A look without taking: visible again at once. Each look counts as a receive, which a dead-letter queue ignores.
    const sample = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: target.queueUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 0,
        MessageSystemAttributeNames: ["ApproximateReceiveCount", "SentTimestamp"],
      }),
    );
    return {
      count: Number(attributes.Attributes?.ApproximateNumberOfMessages ?? 0),
      letters: (sample.Messages ?? []).map((message) => ({
        messageId: message.MessageId ?? "",
        keys: keysOf(message.Body ?? ""),
        receiveCount: Number(message.Attributes?.ApproximateReceiveCount ?? 0),
        ...(message.Attributes?.SentTimestamp ? { failedAt: new Date(Number(message.Attributes.SentTimestamp)).toISOString() } : {}),
      })),
    };
  } finally {
    sqs.destroy();
  }
}

/** Moves dead letters back to the queue they came from; locally all or those named, on a stage all of them. */
export async function redriveDeadLetters(target: DeadLetterTarget, messageIds: readonly string[] = []): Promise<string> {
  if ("api" in target) {
    const body = messageIds.length > 0 ? { message_ids: messageIds } : {};
    const result = z
      .object({ redriven: z.number() })
      .parse(await requestArchive(target, "POST", "/dlq/redrive", { body }));
    return `${result.redriven} message(s) put back on their queues`;
  }
  if (messageIds.length > 0) throw new RangeError("a deployed stage's dead-letter queue is redriven whole (SQS moves every message)");
  const sqs = new SQSClient({});
  try {
    const attributes = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: target.queueUrl, AttributeNames: ["QueueArn"] }));
    const arn = attributes.Attributes?.QueueArn;
    if (!arn) throw new RangeError(`${target.queueUrl} has no QueueArn: is it a queue URL?`);
    // SQS's own redrive: back to each message's source queue, at a rate SQS sets, visible with ListMessageMoveTasks.
    const task = await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: arn }));
    return `redrive started (task ${task.TaskHandle ?? "?"}): SQS moves the messages back to their source queues`;
  } finally {
    sqs.destroy();
  }
}

function keysOf(body: string): string[] {
  try {
    return objectRefsFromMessageBody(body).map((ref) => ref.key);
  } catch {
    return [];
  }
}
