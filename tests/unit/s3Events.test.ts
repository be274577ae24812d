import { describe, expect, it } from "vitest";
import {
  isS3EventBridgeEvent,
  isS3Notification,
  objectRefsFromEvent,
  objectRefsFromMessageBody,
} from "@archive/core/deliveries/s3Events";
import { InvalidInputError } from "@archive/core/platform/errors";
import bridgedFixture from "../fixtures/events/eventbridge-s3-object-created.json";
import notificationFixture from "../fixtures/events/s3-object-created.json";
import sqsBridgedFixture from "../fixtures/events/sqs-eventbridge-s3-object-created.json";
import testEvent from "../fixtures/events/s3-test-event.json";

/** The EventBridge fixture with its object's fields replaced. */
function bridged(object: Record<string, unknown>, changes: Record<string, unknown> = {}): unknown {
  return { ...bridgedFixture, ...changes, detail: { ...bridgedFixture.detail, object: { ...bridgedFixture.detail.object, ...object } } };
}

function rejection(read: () => unknown): unknown {
  try {
    read();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe("S3 object events", () => {
  it("an EventBridge Object Created event names its bucket, key, size, ETag, sequencer and time", () => {
    // Act
    const refs = objectRefsFromEvent(bridgedFixture);

    // Assess
    expect(refs).toEqual([
      {
        bucket: "archive-test",
        key: "data/sro-kb001ms-20220629-00010442-EX10.jpg",
        size: 231335,
        eTag: "d41d8cd98f00b204e9800998ecf8427e",
        sequencer: "0062BBD0AD1B9E8F0A",
        eventTime: new Date("2022-06-29T04:12:45Z"),
      },
    ]);
  });

  it("an EventBridge event's key is taken as sent: EventBridge does not URL-encode it, so nothing is decoded", () => {
    // Prepare: characters a notification would send as "+", "%2B" and "%3D"
    const key = "data/a b+c=d%2B.jpg";

    // Act
    const [ref] = objectRefsFromEvent(bridged({ key }));

    // Assess
    expect(ref?.key).toBe(key);
  });

  it("a notification's key is URL-decoded, so both sources name the same object the same way", () => {
    // Prepare
    const [record] = notificationFixture.Records;
    if (!record) throw new Error("the notification fixture has no record");
    const encoded = { Records: [{ ...record, s3: { ...record.s3, object: { ...record.s3.object, key: "data/a+b%2Bc%3Dd%252B.jpg" } } }] };

    // Act
    const [fromNotification] = objectRefsFromEvent(encoded);
    const [fromEventBridge] = objectRefsFromEvent(bridged({ key: "data/a b+c=d%2B.jpg" }));

    // Assess
    expect(fromNotification?.key).toBe("data/a b+c=d%2B.jpg");
    expect(fromEventBridge?.key).toBe(fromNotification?.key);
  });

  it("reads the EventBridge event an SQS message carries, as a rule's queue target delivers it", () => {
    // Prepare
    const [message] = sqsBridgedFixture.Records;

    // Act
    const refs = objectRefsFromMessageBody(message?.body ?? "");

    // Assess
    expect(refs).toEqual(objectRefsFromEvent(bridgedFixture));
  });

  it("tells a direct EventBridge invocation from a notification and from an SQS batch", () => {
    expect(isS3EventBridgeEvent(bridgedFixture)).toBe(true);
    expect(isS3Notification(bridgedFixture)).toBe(false);
    expect(isS3EventBridgeEvent(notificationFixture)).toBe(false);
    expect(isS3EventBridgeEvent(sqsBridgedFixture)).toBe(false);
  });

  it("an EventBridge event of another change (Object Deleted) names no created object", () => {
    expect(objectRefsFromEvent(bridged({}, { "detail-type": "Object Deleted" }))).toEqual([]);
  });

  it("S3's test event names no object", () => {
    expect(objectRefsFromEvent(testEvent)).toEqual([]);
  });

  it("an EventBridge event without a hex sequencer is bad input, acknowledged rather than retried", () => {
    // Act
    const error = rejection(() => objectRefsFromEvent(bridged({ sequencer: "not-hex" })));

    // Assess
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(String(error)).toMatch(/neither an S3 event notification nor an EventBridge S3 event/);
  });
});
