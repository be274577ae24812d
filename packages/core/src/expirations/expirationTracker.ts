import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { z } from "zod";
import type { ArchiveObjectKey } from "../names/fileName";
import type { AwsContext } from "../platform/context";
import { dynamoFault, epochSeconds, isConditionFailure } from "../platform/dynamo";

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

/** Every entry carries it, so the sweep finds due entries with one index query. */
export const DUE_PARTITION = "due";

/** Adds the exposure's entry unless it has one: the first file's arrival sets the expiry. */
export async function trackExpiration(
  ctx: Pick<AwsContext, "dynamo" | "tables">,
  file: ArchiveObjectKey,
  expiresAt: Date,
): Promise<void> {
  const entry: ExpirationEntry = {
    expiration_key: `${file.directory}/${file.baseFilename}`,
    s3_directory: file.directory,
    base_filename: file.baseFilename,
    site: file.site,
    expires_at: epochSeconds(expiresAt),
  };
  try {
    await ctx.dynamo.send(
      new PutCommand({
        TableName: ctx.tables.expirations,
        Item: { ...entry, due_partition: DUE_PARTITION },
        ConditionExpression: "attribute_not_exists(expiration_key)",
      }),
    );
  } catch (error) {
    if (!isConditionFailure(error)) throw dynamoFault("track an expiration", error);
  }
}
