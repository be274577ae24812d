import { GetCommand, ScanCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { z } from "zod";
import { assertSiteName } from "../names/fileName";
import type { AwsContext } from "../platform/context";
import { dynamoCall } from "../platform/dynamo";
import { ArchiveError } from "../platform/errors";
import { MetricUnit } from "../platform/logger";

type TallyContext = Pick<AwsContext, "dynamo" | "tables">;

/**
 * The sites that still upload without a token (ALLOW_ANONYMOUS_UPLOADS): one item per site in the anonymous-uploads
 * table, counted on every accepted anonymous upload, and a metric with a site dimension, so operators see which site
 * scripts still need their token before tokens become mandatory.
 */
export interface AnonymousUploader {
  site: string;
  uploadCount: number;
  firstSeenAt: string;
  lastSeenAt: string;
  lastObjectKey: string;
}

/** The metric every accepted anonymous upload adds 1 to, with dimension `site`. */
export const ANONYMOUS_UPLOADS_METRIC = "AnonymousUploads";

const uploaderItemSchema = z.object({
  site: z.string(),
  upload_count: z.number(),
  first_seen_at: z.string(),
  last_seen_at: z.string(),
  last_object_key: z.string(),
});

function parseItem(item: Record<string, unknown>): AnonymousUploader {
  const parsed = uploaderItemSchema.safeParse(item);
  if (!parsed.success) {
    throw new ArchiveError(`malformed anonymous-uploads item: ${parsed.error.message}`, "invalid_tally_record", false, 500);
  }
  const { site, upload_count, first_seen_at, last_seen_at, last_object_key } = parsed.data;
  return { site, uploadCount: upload_count, firstSeenAt: first_seen_at, lastSeenAt: last_seen_at, lastObjectKey: last_object_key };
}

/** Counts one accepted upload without a token for the site: the metric, then the site's item (one atomic update). */
export async function recordAnonymousUpload(
  ctx: TallyContext & Pick<AwsContext, "metrics">,
  site: string,
  objectKey: string,
  now: Date,
): Promise<void> {
  // A single metric is published at once with its own dimension; the function's other metrics keep theirs.
  const metric = ctx.metrics.singleMetric();
  metric.addDimension("site", site);
  metric.addMetric(ANONYMOUS_UPLOADS_METRIC, MetricUnit.Count, 1);
  await dynamoCall("count an anonymous upload", () =>
    ctx.dynamo.send(
      new UpdateCommand({
        TableName: ctx.tables.anonymousUploads,
        Key: { site },
        UpdateExpression:
          "ADD upload_count :one SET first_seen_at = if_not_exists(first_seen_at, :now), last_seen_at = :now, last_object_key = :key",
        ExpressionAttributeValues: { ":one": 1, ":now": now.toISOString(), ":key": objectKey },
      }),
    ),
  );
}

/** Every site that uploaded without a token (or only the given one), the most recently seen first. */
export async function listAnonymousUploaders(ctx: TallyContext, site?: string): Promise<AnonymousUploader[]> {
  if (site !== undefined) {
    const result = await dynamoCall("read a site's anonymous uploads", () =>
      ctx.dynamo.send(new GetCommand({ TableName: ctx.tables.anonymousUploads, Key: { site: assertSiteName(site) } })),
    );
    return result.Item ? [parseItem(result.Item)] : [];
  }
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await dynamoCall("list anonymous uploads", () =>
      ctx.dynamo.send(new ScanCommand({ TableName: ctx.tables.anonymousUploads, ExclusiveStartKey: startKey })),
    );
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items.map(parseItem).sort((a, b) => b.lastSeenAt.localeCompare(a.lastSeenAt) || a.site.localeCompare(b.site));
}
