import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import type { AccountReader, QueueRef } from "@archive/core/cutover/accountReader";

// Recorded AWS answers (tests/fixtures/aws/<Action>/<name>.json) in place of the calls an emulator cannot answer:
// `withRecordedAnswers(reader, { describeSecret: { "data-archive/prod/database": "prod-database" } })` answers that
// call from the file and every other call from `reader`.

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../fixtures/aws");

const ACTIONS: Readonly<Record<keyof AccountReader, string>> = {
  headBucket: "HeadBucket",
  getBucketNotificationConfiguration: "GetBucketNotificationConfiguration",
  describeTable: "DescribeTable",
  describeTimeToLive: "DescribeTimeToLive",
  getQueueUrl: "GetQueueUrl",
  describeSecret: "DescribeSecret",
};

const recordedErrorSchema = z.object({ $error: z.object({ name: z.string(), message: z.string() }) });

/** A recorded answer: its JSON, or the error it records, thrown as the SDK throws a service error (by name). */
export async function recordedAnswer(action: keyof AccountReader, name: string): Promise<unknown> {
  const answer: unknown = JSON.parse(readFileSync(path.join(FIXTURES, ACTIONS[action], `${name}.json`), "utf8"));
  const failure = recordedErrorSchema.safeParse(answer);
  if (failure.success) throw Object.assign(new Error(failure.data.$error.message), { name: failure.data.$error.name });
  return answer;
}

/** Per action, the resource (bucket, table, queue name, secret id) → the recorded answer's file name. */
export type RecordedAnswers = Partial<Record<keyof AccountReader, Record<string, string>>>;

export function withRecordedAnswers(reader: AccountReader, answers: RecordedAnswers): AccountReader {
  const pick = (action: keyof AccountReader, resource: string, live: () => Promise<unknown>): Promise<unknown> => {
    const recorded = answers[action]?.[resource];
    return recorded === undefined ? live() : recordedAnswer(action, recorded);
  };
  return {
    headBucket: (bucket) => pick("headBucket", bucket, () => reader.headBucket(bucket)),
    getBucketNotificationConfiguration: (bucket) =>
      pick("getBucketNotificationConfiguration", bucket, () => reader.getBucketNotificationConfiguration(bucket)),
    describeTable: (table) => pick("describeTable", table, () => reader.describeTable(table)),
    describeTimeToLive: (table) => pick("describeTimeToLive", table, () => reader.describeTimeToLive(table)),
    getQueueUrl: (queue: QueueRef) => pick("getQueueUrl", queue.name, () => reader.getQueueUrl(queue)),
    describeSecret: (secretId) => pick("describeSecret", secretId, () => reader.describeSecret(secretId)),
  };
}
