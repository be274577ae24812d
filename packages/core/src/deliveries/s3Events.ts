import { z } from "zod";
import { InvalidInputError } from "../platform/errors";
import { decodeS3EventKey } from "../names/fileName";

/**
 * One created S3 object, as a notification or an EventBridge event describes it. `key` is the object's real key: a
 * notification's is URL-encoded and decoded here (the one place, via decodeS3EventKey); EventBridge's is sent plain.
 */
export interface ObjectRef {
  bucket: string;
  key: string;
  size: number;
  eTag: string;
  /** S3's per-key ordering token, hex; compare with compareSequencers, never as plain strings. */
  sequencer: string;
  eventTime: Date;
}

// A re-ingestion's sequencer carries a fraction after S3's: see reingestSequencer.
const sequencerSchema = z.string().regex(/^[0-9A-Fa-f]{1,64}(\.[0-9A-Fa-f]{8})?$/, "a hex sequencer");

const s3RecordSchema = z.object({
  eventSource: z.literal("aws:s3"),
  eventName: z.string(),
  eventTime: z.string().datetime({ offset: true }),
  s3: z.object({
    bucket: z.object({ name: z.string().min(1) }),
    object: z.object({
      key: z.string().min(1),
      // Copy notifications from some emulators omit size and ETag; real S3 always sends them for ObjectCreated.
      size: z.number().int().nonnegative().default(0),
      eTag: z.string().default(""),
      sequencer: sequencerSchema,
    }),
  }),
});

/** S3's event as EventBridge delivers it (straight, or as the body of an SQS message a rule sent). */
export const s3EventBridgeEventSchema = z.object({
  source: z.literal("aws.s3"),
  "detail-type": z.string(),
  time: z.string().datetime({ offset: true }),
  detail: z.object({
    bucket: z.object({ name: z.string().min(1) }),
    object: z.object({
      key: z.string().min(1),
      size: z.number().int().nonnegative().default(0),
      etag: z.string().default(""),
      sequencer: sequencerSchema,
    }),
  }),
});

/** An S3 event notification (the body of each SQS message, or a direct S3 invocation). */
export const s3NotificationSchema = z.object({ Records: z.array(s3RecordSchema) });

/** The message S3 sends once when a notification is configured; it names no object. */
export const s3TestEventSchema = z.object({ Event: z.literal("s3:TestEvent") });

export function isS3Notification(event: unknown): event is z.input<typeof s3NotificationSchema> {
  return s3NotificationSchema.safeParse(event).success;
}

export type S3EventBridgeEvent = z.input<typeof s3EventBridgeEventSchema>;

export function isS3EventBridgeEvent(event: unknown): event is S3EventBridgeEvent {
  return s3EventBridgeEventSchema.safeParse(event).success;
}

/**
 * The created objects of a notification or an EventBridge event; removals and test events name none. Throws
 * InvalidInputError on other shapes.
 */
export function objectRefsFromEvent(event: unknown): ObjectRef[] {
  if (s3TestEventSchema.safeParse(event).success) return [];
  const bridged = s3EventBridgeEventSchema.safeParse(event);
  if (bridged.success) {
    const { detail } = bridged.data;
    if (bridged.data["detail-type"] !== "Object Created") return [];
    return [
      {
        bucket: detail.bucket.name,
        key: detail.object.key,
        size: detail.object.size,
        eTag: detail.object.etag,
        sequencer: detail.object.sequencer,
        eventTime: new Date(bridged.data.time),
      },
    ];
  }
  const parsed = s3NotificationSchema.safeParse(event);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ");
    throw new InvalidInputError(`neither an S3 event notification nor an EventBridge S3 event: ${problems}`, "Records");
  }
  return parsed.data.Records.filter((record) => record.eventName.startsWith("ObjectCreated:")).map((record) => ({
    bucket: record.s3.bucket.name,
    key: decodeS3EventKey(record.s3.object.key),
    size: record.s3.object.size,
    eTag: record.s3.object.eTag,
    sequencer: record.s3.object.sequencer,
    eventTime: new Date(record.eventTime),
  }));
}

/** The created objects named by one SQS message body (an S3 notification or an EventBridge S3 event, as JSON). */
export function objectRefsFromMessageBody(body: string): ObjectRef[] {
  let event: unknown;
  try {
    event = JSON.parse(body);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    throw new InvalidInputError(`the message body is not JSON: ${error.message}`, "body");
  }
  return objectRefsFromEvent(event);
}

const SEQUENCER_WIDTH = 64;

const FRACTION_WIDTH = 8;

/**
 * Sequencers of one key order as hex numbers: left-padded to equal width they order as strings (also in DynamoDB).
 * A re-ingestion's fraction (".0000000N") keeps its place: after its whole part, before the next whole number.
 */
export function normalizeSequencer(sequencer: string): string {
  const [whole = "", fraction] = sequencer.toUpperCase().split(".");
  return whole.padStart(SEQUENCER_WIDTH, "0") + (fraction === undefined ? "" : `.${fraction}`);
}

/**
 * The sequencer of a re-ingestion of an object whose newest recorded event is `recorded` (normalized, as the delivery
 * record keeps it; none when nothing was recorded): the recorded one plus a fraction, so the delivery dedup processes
 * it again, while any genuinely newer upload (a greater whole sequencer) still sorts after it and wins.
 */
export function reingestSequencer(recorded: string | undefined): string {
  const [whole = "0", fraction = "0"] = (recorded ?? "0").split(".");
  const next = (Number.parseInt(fraction, 16) + 1).toString(16).toUpperCase().padStart(FRACTION_WIDTH, "0");
  return `${whole.replace(/^0+(?=.)/, "")}.${next}`;
}

export function compareSequencers(a: string, b: string): number {
  const left = normalizeSequencer(a);
  const right = normalizeSequencer(b);
  return left < right ? -1 : left > right ? 1 : 0;
}
