import { createHash } from "node:crypto";
import { PutCommand, QueryCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { z } from "zod";
import { SITE_PATTERN } from "../names/fileName";
import type { AwsContext } from "../platform/context";
import { dynamoCall, epochSeconds, queryValidItems } from "../platform/dynamo";
import { normalizeSequencer } from "./s3Events";

/**
 * `recent-uploads-log`, the running system's table (CONTRACTS.md): every object that arrives, valid name or not, shown
 * in the frontend's dev tools. Key `site` + `upload_timestamp_s`; the old read API queries a site with
 * `Key('site').eq(site)` and scans the table for "all".
 */
export const uploadLogEntrySchema = z.object({
  site: z.string(),
  upload_timestamp_s: z.number(),
  /** The full key, e.g. "data/sro-kb001ms-20220629-00010442-EX10.jpg". */
  filename: z.string(),
  size_bytes: z.number(),
  expire_timestamp_s: z.number(),
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

/**
 * The entry's sort key: the event time in epoch seconds to the millisecond, plus microseconds taken from a hash of the
 * key and sequencer: 0–999 within the millisecond, or 0–999,999 within the second when the time has no milliseconds
 * (EventBridge's is to the second). So a repeated delivery of an event writes the same item, and two uploads of one
 * site in the same second keep two (but for a one-in-a-thousand chance when they share a millisecond, one in a million
 * when their times are whole seconds). Written with 6 decimals it stays exact as a JavaScript number until 2106, so an
 * item read back is deleted by the key it was written with.
 */
export function uploadTimestamp(upload: Pick<Upload, "key" | "uploadedAt" | "sequencer">): number {
  const digest = createHash("sha256").update(`${upload.key}\n${normalizeSequencer(upload.sequencer)}`).digest();
  const ms = upload.uploadedAt.getTime();
  const spread = ms % 1000 === 0 ? 1_000_000 : 1000;
  const micros = BigInt(ms) * 1000n + BigInt(digest.readUInt32BE(0) % spread);
  return Number(`${micros / 1_000_000n}.${String(micros % 1_000_000n).padStart(6, "0")}`);
}

/** Writes the upload's entry; a repeated delivery writes the same item again, two uploads in one second never share one. */
export async function logUpload(ctx: Pick<AwsContext, "dynamo" | "tables" | "config">, upload: Upload): Promise<UploadLogEntry> {
  const entry: UploadLogEntry = {
    site: uploadLogSite(upload.key),
    upload_timestamp_s: uploadTimestamp(upload),
    // The full key, as the replaced service logged it and the frontend shows it.
    filename: upload.key,
    size_bytes: upload.size,
    expire_timestamp_s: epochSeconds(upload.uploadedAt) + Math.round(ctx.config.UPLOAD_LOG_TTL_HOURS * 3600),
  };
  await dynamoCall("log an upload", () => ctx.dynamo.send(new PutCommand({ TableName: ctx.tables.uploadLog, Item: entry })));
  return entry;
}

/**
 * "All sites" reads the whole table, as the old read API's scan did (the table is the running system's and has no
 * index to query instead): it holds only UPLOAD_LOG_TTL_HOURS of uploads, about 130 bytes each, so a full read of
 * 50,000 entries is about 6.5 MB, some 800 read units. At most this many 1 MB pages are read per request.
 */
const MAX_SCAN_PAGES = 32;

/** The newest uploads of a site (or of all sites), newest first, none past its expiry. */
export async function recentUploads(
  ctx: Pick<AwsContext, "dynamo" | "tables" | "log">,
  site: string,
  now: Date,
  limit = 100,
): Promise<UploadLogEntry[]> {
  const TableName = ctx.tables.uploadLog;
  const notExpired = { FilterExpression: "expire_timestamp_s > :now" };
  if (site !== ALL_SITES) {
    return queryValidItems(ctx, "read the upload log", uploadLogEntrySchema, limit, (startKey) =>
      ctx.dynamo.send(
        new QueryCommand({
          TableName,
          KeyConditionExpression: "site = :site",
          ...notExpired,
          ExpressionAttributeValues: { ":site": site, ":now": epochSeconds(now) },
          ScanIndexForward: false,
          Limit: limit,
          ExclusiveStartKey: startKey,
        }),
      ),
    );
  }
  let pages = 0;
  const entries = await queryValidItems(ctx, "scan the upload log", uploadLogEntrySchema, Number.POSITIVE_INFINITY, async (startKey) => {
    pages += 1;
    const page = await ctx.dynamo.send(
      new ScanCommand({ TableName, ...notExpired, ExpressionAttributeValues: { ":now": epochSeconds(now) }, ExclusiveStartKey: startKey }),
    );
    if (pages < MAX_SCAN_PAGES || page.LastEvaluatedKey === undefined) return page;
    ctx.log.warn("the upload log is larger than one read of all sites covers; the newest entries shown may be incomplete", {
      pages,
    });
    return { ...page, LastEvaluatedKey: undefined };
  });
  return entries.sort((a, b) => b.upload_timestamp_s - a.upload_timestamp_s).slice(0, limit);
}
