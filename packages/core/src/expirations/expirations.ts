import { DeleteCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { z } from "zod";
import { removeAllskyImage } from "../allsky/allskyImages";
import { removeImage } from "../exposures/imageStore";
import { removeInfoImage } from "../infoImages/infoChannels";
import { objectKeyPrefix, parseBaseFilename, parseObjectKey, type ArchiveDirectory } from "../names/fileName";
import type { ArchiveContext, AwsContext } from "../platform/context";
import { dynamoCall, epochSeconds } from "../platform/dynamo";
import { ArchiveError, InvalidInputError } from "../platform/errors";
import { describeError } from "../platform/logger";
import { deleteObject, listKeys } from "../platform/s3";
import { expirationEntrySchema, type ExpirationEntry } from "./expirationTracker";
import { pinOf } from "./pins";

/**
 * Expiring an exposure: its record (row, channel or allsky item) and its objects. Removals of tracker entries (TTL's,
 * the sweep's, the old service's) stream to expireData, and the sweep expires what is due (TTL may lag by days); both
 * call expireEntry, which may run any number of times for one entry.
 */

/** The exposure's objects: exactly those whose key parses to this base filename (never a neighbour's). */
async function objectsOf(ctx: AwsContext, directory: ArchiveDirectory, baseFilename: string): Promise<string[]> {
  const keys = await listKeys(ctx, objectKeyPrefix(directory, baseFilename));
  return keys.filter((key) => {
    try {
      return parseObjectKey(key).baseFilename === baseFilename;
    } catch (error) {
      if (!(error instanceof InvalidInputError)) throw error;
      ctx.log.warn("an object under an expiring exposure's prefix is not one of its files; it is kept", { key });
      return false;
    }
  });
}

/** What expiring an entry did: the objects deleted, or nothing because an operator pinned the exposure. */
export type ExpiryOutcome = { objectsDeleted: number; kept?: "pinned" };

/**
 * Deletes one exposure: its database record first, then its objects; a pinned data/ exposure is kept whole (unpinning
 * it schedules its expiry again, pins.ts). Safe to repeat.
 */
export async function expireEntry(ctx: ArchiveContext, entry: ExpirationEntry): Promise<ExpiryOutcome> {
  const { baseFilename: base, site } = parseBaseFilename(entry.pk);
  const pin = entry.s3_directory === "data" ? await pinOf(ctx.db, base) : undefined;
  if (pin) {
    ctx.log.info("kept an expired exposure: it is pinned", {
      base_filename: base,
      pinned_by: pin.pinned_by,
      pinned_at: pin.pinned_at.toISOString(),
      note: pin.note,
    });
    return { objectsDeleted: 0, kept: "pinned" };
  }
  if (entry.s3_directory === "data") await removeImage(ctx.db, base);
  else if (entry.s3_directory === "info-images") await removeInfoImage(ctx, site, base);
  else await removeAllskyImage(ctx, site, base);
  const keys = await objectsOf(ctx, entry.s3_directory, base);
  for (const key of keys) await deleteObject(ctx, key);
  ctx.log.info("expired an exposure", { s3_directory: entry.s3_directory, base_filename: base, objects_deleted: keys.length });
  return { objectsDeleted: keys.length };
}

/** The entry in a DynamoDB stream record's old image (attribute-value JSON); bad input when it is not one. */
const streamImageSchema = z.object({
  pk: z.object({ S: z.string() }),
  s3_directory: z.object({ S: z.string() }),
  expiration_timestamp_s: z.object({ N: z.string() }),
});

export function expirationEntryFromStreamImage(image: unknown): ExpirationEntry {
  const parsed = streamImageSchema.safeParse(image);
  const entry =
    parsed.success &&
    expirationEntrySchema.safeParse({
      pk: parsed.data.pk.S,
      s3_directory: parsed.data.s3_directory.S,
      expiration_timestamp_s: Number(parsed.data.expiration_timestamp_s.N),
    });
  if (!entry || !entry.success) {
    throw new InvalidInputError("the stream record's old image is not an expiration entry", "OldImage");
  }
  return entry.data;
}

export interface SweepResult {
  expired: number;
  /** Due entries of pinned exposures: the exposure is kept and its entry removed, as TTL would remove it. */
  kept: number;
  failed: number;
}

/** A part of the table, as a parallel scan divides it. */
export interface SweepSegment {
  segment: number;
  totalSegments: number;
}

/** The scheduled sweep's parts: it runs every minute, so each entry is looked at once an hour. */
export const SWEEP_SEGMENTS = 60;

/**
 * The part the scheduled sweep at `now` reads. The tracker is the running system's table (no index to find due entries
 * by, and production's may have the 1 read unit it was created with), so the sweep scans; one sixtieth per run keeps
 * each run's reads small while TTL and the stream do the prompt work, and every due entry is found within the hour.
 */
export function sweepSegmentAt(now: Date): SweepSegment {
  return { segment: Math.floor(now.getTime() / 60_000) % SWEEP_SEGMENTS, totalSegments: SWEEP_SEGMENTS };
}

/**
 * Expires every entry due at `now` (of one segment of the table, or all of it) and deletes it; an entry that fails
 * stays for the next sweep.
 */
export async function sweepDueExpirations(ctx: ArchiveContext, now: Date, part?: SweepSegment): Promise<SweepResult> {
  const result: SweepResult = { expired: 0, kept: 0, failed: 0 };
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await dynamoCall("find due expirations", () =>
      ctx.dynamo.send(
        new ScanCommand({
          TableName: ctx.tables.expirations,
          FilterExpression: "expiration_timestamp_s <= :now",
          ExpressionAttributeValues: { ":now": epochSeconds(now) },
          ...(part ? { Segment: part.segment, TotalSegments: part.totalSegments } : {}),
          ExclusiveStartKey: startKey,
        }),
      ),
    );
    for (const item of page.Items ?? []) {
      const parsed = expirationEntrySchema.safeParse(item);
      if (!parsed.success) {
        result.failed++;
        ctx.log.error("an expiration entry of an unexpected shape is left in place", { item, issues: parsed.error.issues });
        continue;
      }
      try {
        const outcome = await expireEntry(ctx, parsed.data);
        await deleteEntry(ctx, parsed.data);
        if (outcome.kept) result.kept++;
        else result.expired++;
      } catch (error) {
        result.failed++;
        ctx.log.error("cannot expire an exposure; the next sweep tries again", {
          base_filename: parsed.data.pk,
          s3_directory: parsed.data.s3_directory,
          retryable: error instanceof ArchiveError ? error.retryable : true,
          error: describeError(error),
        });
      }
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return result;
}

async function deleteEntry(ctx: Pick<AwsContext, "dynamo" | "tables">, entry: ExpirationEntry): Promise<void> {
  await dynamoCall("delete an expiration entry", () =>
    ctx.dynamo.send(new DeleteCommand({ TableName: ctx.tables.expirations, Key: { pk: entry.pk } })),
  );
}
