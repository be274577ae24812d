import { appendFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { S3EventRecord, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { describe, expect, it } from "vitest";
import { objectRefsFromMessageBody } from "@archive/core/deliveries/s3Events";
import { createDispatcher, LOCAL_RETRY, retryDelay, type SqsHandler } from "@archive/local/dispatcher";
import { s3EventRecord } from "@archive/local/lambdaEvents";
import { openMessageJournal } from "@archive/local/messageJournal";

// The dispatcher stands in for S3 → SQS → Lambda: its batches must read like the real ones, and failures must be
// retried and dead-lettered as an event source mapping with a redrive policy would.
function created(key: string): S3EventRecord {
  return s3EventRecord(
    {
      eventVersion: "2.1",
      eventSource: "aws:s3",
      awsRegion: "us-east-1",
      eventTime: new Date().toISOString(),
      eventName: "ObjectCreated:Post",
      s3: { s3SchemaVersion: "1.0", bucket: { name: "bucket", arn: "arn:aws:s3:::bucket" }, object: { key, size: 10, eTag: "abc", sequencer: "1" } },
    },
    "test",
  );
}

function recorder(answer: (event: SQSEvent, call: number) => SQSBatchResponse | Promise<SQSBatchResponse>) {
  const events: SQSEvent[] = [];
  const handler: SqsHandler = async (event) => {
    events.push(event);
    return answer(event, events.length);
  };
  return { events, handler };
}

describe("the local dispatcher", () => {
  it("delivers object-created records by prefix as SQS batches the core event parser accepts", async () => {
    const data = recorder(() => ({ batchItemFailures: [] }));
    const info = recorder(() => ({ batchItemFailures: [] }));
    const dispatcher = createDispatcher({
      region: "us-east-1",
      queues: [
        { name: "data-q", prefix: "data/", functionName: "data", handler: data.handler },
        { name: "info-q", prefix: "info-images/", functionName: "info", handler: info.handler },
      ],
    });

    const routed = [
      dispatcher.dispatch(created("data/tst-cam1-20240101-00000001-EX10.jpg")),
      dispatcher.dispatch(created("info-images/tst-cam1-20240101-00000002-EX10.jpg")),
      dispatcher.dispatch(created("other/file.txt")),
    ];
    await dispatcher.whenIdle();
    await dispatcher.stop();

    expect(routed).toEqual([true, true, false]);
    const record = data.events[0]?.Records[0];
    expect(record).toMatchObject({ eventSource: "aws:sqs", eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:data-q" });
    expect(record?.attributes.ApproximateReceiveCount).toBe("1");
    expect(objectRefsFromMessageBody(record?.body ?? "")).toMatchObject([{ key: "data/tst-cam1-20240101-00000001-EX10.jpg", size: 10 }]);
    expect(info.events.flatMap((event) => event.Records)).toHaveLength(1);
  });

  it("gives successive events of a key increasing sequencers, as S3 does", () => {
    const first = created("data/tst-cam1-20240101-00000009-EX01.txt");
    const second = created("data/tst-cam1-20240101-00000009-EX01.txt");

    expect(BigInt(`0x${second.s3.object.sequencer}`)).toBeGreaterThan(BigInt(`0x${first.s3.object.sequencer}`));
  });

  it("redelivers a record reported in batchItemFailures, with its receive count raised", async () => {
    const queue = recorder((event, call) => ({
      batchItemFailures: call === 1 ? event.Records.map((record) => ({ itemIdentifier: record.messageId })) : [],
    }));
    const dispatcher = createDispatcher({
      region: "us-east-1",
      retryDelayMs: 10,
      queues: [{ name: "q", prefix: "data/", functionName: "f", handler: queue.handler }],
    });

    dispatcher.dispatch(created("data/tst-cam1-20240101-00000003-EX01.txt"));
    await dispatcher.whenIdle();
    await dispatcher.stop();

    expect(queue.events.map((event) => event.Records.map((record) => record.attributes.ApproximateReceiveCount))).toEqual([["1"], ["2"]]);
    expect(queue.events[0]?.Records[0]?.messageId).toBe(queue.events[1]?.Records[0]?.messageId);
    expect(dispatcher.deadLetters()).toEqual([]);
    expect(dispatcher.stats()[0]).toMatchObject({ delivered: 1, retried: 1, deadLettered: 0 });
  });

  it("moves a record that keeps failing to the dead-letter list after its last receive, naming its key", async () => {
    const queue = recorder(() => {
      throw new Error("database unavailable");
    });
    const dispatcher = createDispatcher({
      region: "us-east-1",
      retryDelayMs: 10,
      maxReceiveCount: 3,
      queues: [{ name: "q", prefix: "data/", functionName: "f", handler: queue.handler }],
    });

    dispatcher.dispatch(created("data/tst-cam1-20240101-00000004-EX10%20x.jpg"));
    await dispatcher.whenIdle();
    await dispatcher.stop();

    expect(queue.events).toHaveLength(3);
    expect(dispatcher.deadLetters()).toMatchObject([
      { queue: "q", receiveCount: 3, keys: ["data/tst-cam1-20240101-00000004-EX10 x.jpg"], reason: "handler threw Error: database unavailable" },
    ]);
  });

  it("retries with exponential backoff, so its default budget outlasts a five-minute outage", () => {
    const delays = Array.from({ length: LOCAL_RETRY.maxReceiveCount - 1 }, (_, index) =>
      retryDelay(index + 1, LOCAL_RETRY.retryDelayMs, LOCAL_RETRY.maxRetryDelayMs),
    );

    expect(delays.slice(0, 4)).toEqual([1000, 2000, 4000, 8000]);
    expect(Math.max(...delays)).toBe(LOCAL_RETRY.maxRetryDelayMs);
    expect(delays.reduce((sum, delay) => sum + delay, 0)).toBeGreaterThan(5 * 60_000);
  });
});

describe("the local dispatcher's journal", () => {
  it("gives the next run what a stopped run left: unhandled messages are delivered, dead letters listed and redriven", async () => {
    // Prepare: a run whose handler always fails, and a message it never got to
    const directory = await mkdtemp(join(tmpdir(), "archive-journal-"));
    const path = join(directory, "queues.jsonl");
    const failing = recorder(() => {
      throw new Error("the database is down");
    });
    const firstRun = openMessageJournal(path);
    const first = createDispatcher({
      region: "us-east-1",
      journal: firstRun,
      maxReceiveCount: 2,
      retryDelayMs: 5,
      queues: [{ name: "data-q", prefix: "data/", functionName: "data", handler: failing.handler }],
    });
    first.dispatch(created("data/tst-cam1-20240101-00000001-EX10.jpg"));
    await first.whenIdle();
    first.dispatch(created("data/tst-cam1-20240101-00000002-EX10.jpg"));
    await first.stop();
    firstRun.close();

    // Act: the next run, on the same journal, with a handler that succeeds
    const secondRun = openMessageJournal(path);
    const restored = secondRun.restored;
    const succeeding = recorder(() => ({ batchItemFailures: [] }));
    const second = createDispatcher({
      region: "us-east-1",
      journal: secondRun,
      queues: [{ name: "data-q", prefix: "data/", functionName: "data", handler: succeeding.handler }],
    });
    const listedAtStart = second.deadLetters().map((letter) => letter.keys);
    await second.whenIdle();
    const redriven = second.redrive();
    await second.whenIdle();
    await second.stop();
    secondRun.close();
    const thirdRun = openMessageJournal(path);
    thirdRun.close();
    await rm(directory, { recursive: true, force: true });

    // Assess
    expect(restored.pending.map(({ message }) => objectRefsFromMessageBody(message.body)[0]?.key)).toEqual([
      "data/tst-cam1-20240101-00000002-EX10.jpg",
    ]);
    expect(listedAtStart).toEqual([["data/tst-cam1-20240101-00000001-EX10.jpg"]]);
    expect(redriven).toHaveLength(1);
    const delivered = succeeding.events.flatMap((event) => event.Records.map((record) => objectRefsFromMessageBody(record.body)[0]?.key));
    expect(delivered.sort()).toEqual(["data/tst-cam1-20240101-00000001-EX10.jpg", "data/tst-cam1-20240101-00000002-EX10.jpg"]);
    expect(second.deadLetters()).toEqual([]);
    expect(thirdRun.restored).toEqual({ pending: [], deadLetters: [] });
  });

  it("ignores a last line cut short by a kill mid-write", async () => {
    const directory = await mkdtemp(join(tmpdir(), "archive-journal-"));
    const path = join(directory, "queues.jsonl");
    const journal = openMessageJournal(path);
    journal.queued("data-q", { messageId: "m1", body: "{}", sentAt: 1, receiveCount: 0 });
    journal.close();
    await appendFile(path, '{"op":"queued","queue":"data-q","mess');

    const reopened = openMessageJournal(path);
    reopened.close();
    await rm(directory, { recursive: true, force: true });

    expect(reopened.restored.pending.map(({ message }) => message.messageId)).toEqual(["m1"]);
  });
});
