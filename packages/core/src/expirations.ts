import { DeleteCommand, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { z } from "zod";
import { removeAllskyImage } from "./allsky";
import { awsClients } from "./aws";
import { loadConfig } from "./config";
import { database } from "./db";
import { dynamoCall, dynamoFault, epochSeconds, isConditionFailure, tableName } from "./dynamo";
import { ArchiveError, InvalidInputError } from "./errors";
import { objectKeyPrefix, parseObjectKey, type ArchiveDirectory, type ArchiveObjectKey } from "./fileName";
import { removeImage } from "./imageStore";
import { removeInfoImage } from "./infoChannels";
import { logger } from "./logger";
import { deleteObject, listKeys } from "./s3Objects";
import { tables, TTL_ATTRIBUTE } from "./tables";

/**
 * `data-expiration-tracker`: one entry per expiring exposure, `{s3_directory}/{base_filename}`, with expires_at. Its
 * TTL deletions stream to expireData, and a sweep every minute expires what is due (DynamoDB's TTL may lag by days);
 * both call expireEntry, which may run any number of times for one entry.
 */
export const expirationEntrySchema = z.object({
  expiration_key: z.string(),
  s3_directory: z.enum(["data", "info-images", "allsky"]),
  base_filename: z.string(),
  site: z.string(),
  expires_at: z.number(),
});
export type ExpirationEntry = z.infer<typeof expirationEntrySchema>;

const MINUTE = 60_000;
const DAY = 86_400_000;
/** Expiring data types of data/: EP after 7 days, EF after 1 day; the test site `tst` keeps both 5 minutes. */
const DATA_LIFETIMES: Readonly<Record<string, number>> = { EP: 7 * DAY, EF: DAY };
const TEST_SITE = "tst";
const TEST_SITE_LIFETIME = 5 * MINUTE;
const DUE_PARTITION = "due";

/** When an arriving file's exposure is to be deleted, or undefined when it is kept. */
export function expirationFor(file: ArchiveObjectKey, arrivedAt: Date): Date | undefined {
  if (file.directory === "info-images") {
    return new Date(arrivedAt.getTime() + loadConfig().INFO_IMAGE_TTL_HOURS * 3_600_000);
  }
  if (file.directory === "allsky") {
    return new Date(arrivedAt.getTime() + loadConfig().ALLSKY_RETENTION_DAYS * DAY);
  }
  const lifetime = DATA_LIFETIMES[file.dataType.toUpperCase()];
  if (lifetime === undefined) return undefined;
  return new Date(arrivedAt.getTime() + (file.site === TEST_SITE ? TEST_SITE_LIFETIME : lifetime));
}

/** Adds the exposure's entry unless it has one: the first file's arrival sets the expiry. */
export async function trackExpiration(file: ArchiveObjectKey, expiresAt: Date): Promise<void> {
  const entry: ExpirationEntry = {
    expiration_key: `${file.directory}/${file.baseFilename}`,
    s3_directory: file.directory,
    base_filename: file.baseFilename,
    site: file.site,
    expires_at: epochSeconds(expiresAt),
  };
  try {
    await awsClients().dynamo.send(
      new PutCommand({
        TableName: tableName("expirations"),
        Item: { ...entry, due_partition: DUE_PARTITION },
        ConditionExpression: "attribute_not_exists(expiration_key)",
      }),
    );
  } catch (error) {
    if (!isConditionFailure(error)) throw dynamoFault("track an expiration", error);
  }
}

/** The exposure's objects: exactly those whose key parses to this base filename (never a neighbour's). */
async function objectsOf(directory: ArchiveDirectory, baseFilename: string): Promise<string[]> {
  const bucket = loadConfig().BUCKET_NAME;
  const keys = await listKeys(bucket, objectKeyPrefix(directory, baseFilename));
  return keys.filter((key) => {
    try {
      return parseObjectKey(key).baseFilename === baseFilename;
    } catch (error) {
      if (!(error instanceof InvalidInputError)) throw error;
      logger.warn("an object under an expiring exposure's prefix is not one of its files; it is kept", { key });
      return false;
    }
  });
}

/** Deletes one exposure: its database record first, then its objects. Safe to repeat. */
export async function expireEntry(entry: ExpirationEntry): Promise<{ objectsDeleted: number }> {
  const base = entry.base_filename;
  if (entry.s3_directory === "data") await removeImage(database(), base);
  else if (entry.s3_directory === "info-images") await removeInfoImage(entry.site, base);
  else await removeAllskyImage(entry.site, base);
  const bucket = loadConfig().BUCKET_NAME;
  const keys = await objectsOf(entry.s3_directory, base);
  for (const key of keys) await deleteObject(bucket, key);
  logger.info("expired an exposure", { s3_directory: entry.s3_directory, base_filename: base, objects_deleted: keys.length });
  return { objectsDeleted: keys.length };
}

/** The entry in a DynamoDB stream record's old image (attribute-value JSON); bad input when it is not one. */
const streamImageSchema = z.object({
  expiration_key: z.object({ S: z.string() }),
  s3_directory: z.object({ S: z.string() }),
  base_filename: z.object({ S: z.string() }),
  site: z.object({ S: z.string() }),
  [TTL_ATTRIBUTE]: z.object({ N: z.string() }),
});

export function expirationEntryFromStreamImage(image: unknown): ExpirationEntry {
  const parsed = streamImageSchema.safeParse(image);
  const entry =
    parsed.success &&
    expirationEntrySchema.safeParse({
      expiration_key: parsed.data.expiration_key.S,
      s3_directory: parsed.data.s3_directory.S,
      base_filename: parsed.data.base_filename.S,
      site: parsed.data.site.S,
      expires_at: Number(parsed.data[TTL_ATTRIBUTE].N),
    });
  if (!entry || !entry.success) {
    throw new InvalidInputError("the stream record's old image is not an expiration entry", "OldImage");
  }
  return entry.data;
}

export interface SweepResult {
  expired: number;
  failed: number;
}

/** Expires every entry due at `now` and deletes it; an entry that fails stays for the next sweep. */
export async function sweepDueExpirations(now = new Date()): Promise<SweepResult> {
  const result: SweepResult = { expired: 0, failed: 0 };
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await dynamoCall("find due expirations", () =>
      awsClients().dynamo.send(
        new QueryCommand({
          TableName: tableName("expirations"),
          IndexName: tables.expirations.globalIndexes[0].indexName,
          KeyConditionExpression: "due_partition = :due AND expires_at <= :now",
          ExpressionAttributeValues: { ":due": DUE_PARTITION, ":now": epochSeconds(now) },
          ExclusiveStartKey: startKey,
        }),
      ),
    );
    for (const item of page.Items ?? []) {
      const parsed = expirationEntrySchema.safeParse(item);
      if (!parsed.success) {
        result.failed++;
        logger.error("an expiration entry of an unexpected shape is left in place", { item, issues: parsed.error.issues });
        continue;
      }
      try {
        await expireEntry(parsed.data);
        await deleteEntry(parsed.data);
        result.expired++;
      } catch (error) {
        result.failed++;
        logger.error("cannot expire an exposure; the next sweep tries again", {
          base_filename: parsed.data.base_filename,
          s3_directory: parsed.data.s3_directory,
          retryable: error instanceof ArchiveError ? error.retryable : true,
          error: error instanceof Error ? error.message : String(error),
        });
      }
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return result;
}

async function deleteEntry(entry: ExpirationEntry): Promise<void> {
  await dynamoCall("delete an expiration entry", () =>
    awsClients().dynamo.send(
      new DeleteCommand({ TableName: tableName("expirations"), Key: { expiration_key: entry.expiration_key } }),
    ),
  );
}
