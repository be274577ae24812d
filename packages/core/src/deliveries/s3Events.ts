import { z } from "zod";
import { InvalidInputError } from "../platform/errors";
import { decodeS3EventKey } from "../names/fileName";

/** One created S3 object, as a notification describes it; `key` is decoded (the one place, via decodeS3EventKey). */
export interface ObjectRef {
  bucket: string;
  key: string;
  size: number;
  eTag: string;
  /** S3's per-key ordering token, hex; compare with compareSequencers, never as plain strings. */
  sequencer: string;
  eventTime: Date;
}

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
      sequencer: z.string().regex(/^[0-9A-Fa-f]{1,64}$/, "a hex sequencer"),
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

/** The created objects of a notification; removals and test events name none. Throws InvalidInputError on other shapes. */
export function objectRefsFromEvent(event: unknown): ObjectRef[] {
  if (s3TestEventSchema.safeParse(event).success) return [];
  const parsed = s3NotificationSchema.safeParse(event);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ");
    throw new InvalidInputError(`not an S3 event notification: ${problems}`, "Records");
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

/** The created objects named by one SQS message body (an S3 notification as JSON). */
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

/** Sequencers of one key order as hex numbers: left-padded to equal width they order as strings (also in DynamoDB). */
export function normalizeSequencer(sequencer: string): string {
  return sequencer.toUpperCase().padStart(SEQUENCER_WIDTH, "0");
}

export function compareSequencers(a: string, b: string): number {
  const left = normalizeSequencer(a);
  const right = normalizeSequencer(b);
  return left < right ? -1 : left > right ? 1 : 0;
}
