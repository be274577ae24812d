import { PutCommand, QueryCommand, type QueryCommandInput } from "@aws-sdk/lib-dynamodb";
import { z } from "zod";
import { SITE_PATTERN } from "../names/fileName";
import type { AwsContext } from "../platform/context";
import { dynamoCall, epochSeconds, queryValidItems } from "../platform/dynamo";
import { tables } from "../platform/tables";
import { normalizeSequencer } from "./s3Events";

/** `recent-uploads-log`: every object that arrives, valid name or not, shown in the frontend's dev tools. */
export const uploadLogEntrySchema = z.object({
  site: z.string(),
  upload_id: z.string(),
  upload_timestamp_s: z.number(),
  filename: z.string(),
  size_bytes: z.number(),
  s3_directory: z.string(),
  expires_at: z.number(),
});
export type UploadLogEntry = z.infer<typeof uploadLogEntrySchema>;

export interface Upload {
  /** The decoded object key, e.g. "data/sro-kb001ms-20220629-00010442-EX10.jpg". */
  key: string;
  size: number;
  uploadedAt: Date;
  sequencer: string;
}

const ALL_SITES = "all";

/**
 * The site an upload is filed under. An invalid name is still logged: under its first dash-separated part when that
 * looks like a site (3–6 lower-case letters or digits), otherwise under the site "unknown".
 */
export function uploadLogSite(key: string): string {
  const fileName = key.slice(key.indexOf("/") + 1);
  const first = fileName.split("-")[0] ?? "";
  return SITE_PATTERN.test(first) ? first : "unknown";
}

/** Writes the upload's entry; a repeated delivery writes the same key again, two uploads in one second never share one. */
export async function logUpload(ctx: Pick<AwsContext, "dynamo" | "tables" | "config">, upload: Upload): Promise<UploadLogEntry> {
  const slash = upload.key.indexOf("/");
  const timestampMs = upload.uploadedAt.getTime();
  const entry: UploadLogEntry = {
    site: uploadLogSite(upload.key),
    upload_id: `${String(timestampMs).padStart(13, "0")}#${upload.key}#${normalizeSequencer(upload.sequencer)}`,
    upload_timestamp_s: timestampMs / 1000,
    // The full key, as the replaced service logged it and the frontend shows it.
    filename: upload.key,
    size_bytes: upload.size,
    s3_directory: slash > 0 ? upload.key.slice(0, slash) : "",
    expires_at: epochSeconds(upload.uploadedAt) + Math.round(ctx.config.UPLOAD_LOG_TTL_HOURS * 3600),
  };
  await dynamoCall("log an upload", () =>
    ctx.dynamo.send(
      new PutCommand({ TableName: ctx.tables.uploadLog, Item: { ...entry, log_partition: ALL_SITES } }),
    ),
  );
  return entry;
}

/** The newest uploads of a site (or of all sites), newest first, none past its expiry. */
export async function recentUploads(
  ctx: Pick<AwsContext, "dynamo" | "tables" | "log">,
  site: string,
  now: Date,
  limit = 100,
): Promise<UploadLogEntry[]> {
  const query: QueryCommandInput =
    site === ALL_SITES
      ? {
          TableName: ctx.tables.uploadLog,
          IndexName: tables.uploadLog.globalIndexes[0].indexName,
          KeyConditionExpression: "log_partition = :p",
          ExpressionAttributeValues: { ":p": ALL_SITES, ":now": epochSeconds(now) },
        }
      : {
          TableName: ctx.tables.uploadLog,
          KeyConditionExpression: "site = :p",
          ExpressionAttributeValues: { ":p": site, ":now": epochSeconds(now) },
        };
  return queryValidItems(ctx, "read the upload log", uploadLogEntrySchema, limit, (startKey) =>
    ctx.dynamo.send(
      new QueryCommand({
        ...query,
        FilterExpression: "expires_at > :now",
        ScanIndexForward: false,
        Limit: limit,
        ExclusiveStartKey: startKey,
      }),
    ),
  );
}
