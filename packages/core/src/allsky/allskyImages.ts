import { DeleteCommand, QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { z } from "zod";
import { daysToMs } from "../deliveries/retention";
import { parseBaseFilename, type ArchiveObjectKey } from "../names/fileName";
import { storedFileAttributes, storedFilesShape } from "../names/storedFiles";
import type { AwsContext } from "../platform/context";
import { dynamoCall, epochSeconds, queryValidItems, setAttributes } from "../platform/dynamo";

/**
 * The allsky table: one item per allsky exposure, under its site, sorted by capture date and base filename (both from
 * the name, so every file of an exposure finds the same item), with the same `<file>_exists` / `<file>_key` scheme as
 * the info channels. Items expire after ALLSKY_RETENTION_DAYS; the expiration tracker deletes their objects.
 */
export const allskyImageSchema = z
  .object({
    site: z.string(),
    capture_key: z.string(),
    base_filename: z.string(),
    s3_directory: z.literal("allsky"),
    expires_at: z.number(),
    ...storedFilesShape,
  })
  .passthrough();
export type AllskyImage = z.infer<typeof allskyImageSchema>;

/** "2022-06-29#sro-allcam-20220629-00000042": newest last, one key per exposure. */
export function allskyCaptureKey(baseFilename: string): string {
  const { date } = parseBaseFilename(baseFilename);
  return `${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}#${baseFilename}`;
}

export interface AllskyFile {
  file: ArchiveObjectKey;
  header?: string;
  now: Date;
}

/** Records a file of an allsky exposure (creating its item on the first one). */
export async function recordAllskyFile(
  ctx: Pick<AwsContext, "dynamo" | "tables" | "config">,
  { file, header, now }: AllskyFile,
): Promise<void> {
  const fields = {
    base_filename: file.baseFilename,
    s3_directory: "allsky",
    expires_at: epochSeconds(new Date(now.getTime() + daysToMs(ctx.config.ALLSKY_RETENTION_DAYS))),
    updated_at: now.toISOString(),
    ...storedFileAttributes(file, header),
  };
  await dynamoCall("record an allsky file", () =>
    ctx.dynamo.send(
      new UpdateCommand({
        TableName: ctx.tables.allsky,
        Key: { site: file.site, capture_key: allskyCaptureKey(file.baseFilename) },
        ...setAttributes(fields),
      }),
    ),
  );
}

/** A site's allsky exposures, newest first, none past its retention; `withJpg` keeps only those with a jpg to show. */
export async function allskyHistory(
  ctx: Pick<AwsContext, "dynamo" | "tables" | "log">,
  site: string,
  now: Date,
  limit = 50,
  withJpg = false,
): Promise<AllskyImage[]> {
  return queryValidItems(ctx, "read allsky images", allskyImageSchema, limit, (startKey) =>
    ctx.dynamo.send(
      new QueryCommand({
        TableName: ctx.tables.allsky,
        KeyConditionExpression: "site = :site",
        FilterExpression: withJpg ? "expires_at > :now AND jpg_medium_exists = :yes" : "expires_at > :now",
        ExpressionAttributeValues: { ":site": site, ":now": epochSeconds(now), ...(withJpg ? { ":yes": true } : {}) },
        ScanIndexForward: false,
        Limit: Math.max(limit, 25),
        ExclusiveStartKey: startKey,
      }),
    ),
  );
}

/** The site's newest allsky exposure that has a medium jpg. */
export async function latestAllsky(
  ctx: Pick<AwsContext, "dynamo" | "tables" | "log">,
  site: string,
  now: Date,
): Promise<AllskyImage | undefined> {
  return (await allskyHistory(ctx, site, now, 1, true))[0];
}

/** Deletes an allsky exposure's item (deleting a missing one is harmless). */
export async function removeAllskyImage(ctx: Pick<AwsContext, "dynamo" | "tables">, site: string, baseFilename: string): Promise<void> {
  await dynamoCall("remove an allsky image", () =>
    ctx.dynamo.send(
      new DeleteCommand({
        TableName: ctx.tables.allsky,
        Key: { site, capture_key: allskyCaptureKey(baseFilename) },
      }),
    ),
  );
}
