import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { z } from "zod";
import type { ArchiveObjectKey } from "../names/fileName";
import type { AwsContext } from "../platform/context";
import { dynamoFault, epochSeconds, isConditionFailure } from "../platform/dynamo";

/**
 * `data-expiration-tracker`, the running system's table (CONTRACTS.md): one entry per expiring exposure, keyed by its
 * base filename (`pk`), with `s3_directory` and `expiration_timestamp_s` (the TTL). The replaced service wrote entries
 * for data/ (and its remover handled info-images/ too); this archive also writes them for info-images/ and allsky/.
 * Removals stream to expireData, and the sweep expires what is due (DynamoDB's TTL may lag by days); both call
 * expireEntry, which may run any number of times for one entry.
 */
export const expirationEntrySchema = z.object({
  /** The base filename. */
  pk: z.string(),
  s3_directory: z.enum(["data", "info-images", "allsky"]),
  expiration_timestamp_s: z.number(),
});
export type ExpirationEntry = z.infer<typeof expirationEntrySchema>;

/** Adds the exposure's entry unless it has one: the first file's arrival sets the expiry, as the old service's did. */
export async function trackExpiration(
  ctx: Pick<AwsContext, "dynamo" | "tables">,
  file: Pick<ArchiveObjectKey, "baseFilename" | "directory">,
  expiresAt: Date,
): Promise<void> {
  const entry: ExpirationEntry = {
    pk: file.baseFilename,
    s3_directory: file.directory,
    expiration_timestamp_s: epochSeconds(expiresAt),
  };
  try {
    await ctx.dynamo.send(
      new PutCommand({ TableName: ctx.tables.expirations, Item: entry, ConditionExpression: "attribute_not_exists(pk)" }),
    );
  } catch (error) {
    if (!isConditionFailure(error)) throw dynamoFault("track an expiration", error);
  }
}
