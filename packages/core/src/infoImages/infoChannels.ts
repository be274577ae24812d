import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { z } from "zod";
import { hoursToMs } from "../deliveries/retention";
import type { ArchiveFileName, ArchiveObjectKey } from "../names/fileName";
import { storedFileAttributes, storedFilesShape } from "../names/storedFiles";
import type { AwsContext } from "../platform/context";
import { dynamoCall, dynamoFault, epochSeconds, isConditionFailure, setAttributes } from "../platform/dynamo";
import { InvalidInputError } from "../platform/errors";

type InfoContext = Pick<AwsContext, "dynamo" | "tables">;

/**
 * The `info-images` table: `{site}#metadata` holds channel1..3 = the base filename the upload API assigned; `{site}#{n}`
 * holds channel n's current image: base_filename, `<file>_exists` / `<file>_key` per file (the flag names of the
 * `images` table, so fits 00 and 01 are both fits_01), the header from a .txt, and expires_at (48 h by default).
 */
export const INFO_CHANNELS = [1, 2, 3] as const;
export type InfoChannel = (typeof INFO_CHANNELS)[number];

export const infoImageSchema = z
  .object({
    pk: z.string(),
    site: z.string(),
    channel: z.number().int().min(1).max(3),
    base_filename: z.string(),
    s3_directory: z.literal("info-images"),
    expires_at: z.number(),
    ...storedFilesShape,
  })
  .passthrough();
export type InfoImage = z.infer<typeof infoImageSchema>;

export function parseInfoChannel(value: unknown): InfoChannel {
  const channel = Number(value);
  if (channel === 1 || channel === 2 || channel === 3) return channel;
  throw new InvalidInputError(`info channel ${JSON.stringify(value)} is not 1, 2 or 3`, "info_channel");
}

const metadataKey = (site: string) => `${site}#metadata`;
const channelKey = (site: string, channel: InfoChannel) => `${site}#${channel}`;
/** Orders base filenames of a site by date and counter; a channel never goes back to an older image. */
const baseOrder = (file: Pick<ArchiveFileName, "date" | "counter">) => `${file.date}${file.counter}`;

/** The upload API's half: the channel's next image is this base filename. */
export async function assignChannel(ctx: InfoContext, site: string, channel: InfoChannel, baseFilename: string): Promise<void> {
  await dynamoCall("assign an info channel", () =>
    ctx.dynamo.send(
      new UpdateCommand({
        TableName: ctx.tables.infoImages,
        Key: { pk: metadataKey(site) },
        UpdateExpression: "SET #channel = :base, site = :site",
        ExpressionAttributeNames: { "#channel": `channel${channel}` },
        ExpressionAttributeValues: { ":base": baseFilename, ":site": site },
      }),
    ),
  );
}

/** The channel the upload API assigned this base filename to; bad input when it was assigned to none. */
export async function channelOf(ctx: InfoContext, site: string, baseFilename: string): Promise<InfoChannel> {
  const result = await dynamoCall("read the info channels", () =>
    ctx.dynamo.send(new GetCommand({ TableName: ctx.tables.infoImages, Key: { pk: metadataKey(site) } })),
  );
  const channel = INFO_CHANNELS.find((n) => result.Item?.[`channel${n}`] === baseFilename);
  if (channel === undefined) {
    throw new InvalidInputError(
      `info image ${baseFilename} is assigned to no channel of ${site} (never uploaded through the API, or replaced since)`,
      "info_channel",
      "unassigned_info_image",
    );
  }
  return channel;
}

export interface InfoFile {
  file: ArchiveObjectKey;
  /** The header JSON from a .txt. */
  header?: string;
  now: Date;
}

/**
 * Records a file of the channel's current image: adds to the channel item when it holds this base filename, replaces
 * the item when it holds an older one (or none). Returns the channel.
 */
export async function recordInfoFile(
  ctx: Pick<AwsContext, "dynamo" | "tables" | "config">,
  { file, header, now }: InfoFile,
): Promise<InfoChannel> {
  const channel = await channelOf(ctx, file.site, file.baseFilename);
  const fields = {
    expires_at: epochSeconds(new Date(now.getTime() + hoursToMs(ctx.config.INFO_IMAGE_TTL_HOURS))),
    updated_at: now.toISOString(),
    ...storedFileAttributes(file, header),
  };
  const { dynamo } = ctx;
  const TableName = ctx.tables.infoImages;
  const Key = { pk: channelKey(file.site, channel) };
  // Two files of a new image may arrive at once: whoever loses the replace adds to the item the other one wrote.
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const update = setAttributes(fields);
      await dynamo.send(
        new UpdateCommand({
          TableName,
          Key,
          ...update,
          ConditionExpression: "base_filename = :base",
          ExpressionAttributeValues: { ...update.ExpressionAttributeValues, ":base": file.baseFilename },
        }),
      );
      return channel;
    } catch (error) {
      if (!isConditionFailure(error)) throw dynamoFault("update an info channel", error);
    }
    try {
      await dynamo.send(
        new PutCommand({
          TableName,
          Item: {
            ...Key,
            site: file.site,
            channel,
            base_filename: file.baseFilename,
            base_order: baseOrder(file),
            s3_directory: "info-images",
            ...fields,
          },
          ConditionExpression: "attribute_not_exists(pk) OR (base_order <= :order AND base_filename <> :base)",
          ExpressionAttributeValues: { ":order": baseOrder(file), ":base": file.baseFilename },
        }),
      );
      return channel;
    } catch (error) {
      if (!isConditionFailure(error)) throw dynamoFault("replace an info channel", error);
    }
    const current = await dynamoCall("read an info channel", () => dynamo.send(new GetCommand({ TableName, Key })));
    const currentOrder = current.Item?.["base_order"];
    if (typeof currentOrder === "string" && currentOrder > baseOrder(file)) {
      throw new InvalidInputError(
        `info image ${file.baseFilename} is older than ${String(current.Item?.["base_filename"])} on channel ${channel}`,
        "info_channel",
        "stale_info_image",
      );
    }
  }
  throw dynamoFault("record an info image file", new Error(`channel ${channel} of ${file.site} kept changing`));
}

/** Channel n's image, or undefined when there is none or it is past its expiry. */
export async function infoImage(
  ctx: Pick<AwsContext, "dynamo" | "tables" | "log">,
  site: string,
  channel: InfoChannel,
  now: Date,
): Promise<InfoImage | undefined> {
  const result = await dynamoCall("read an info image", () =>
    ctx.dynamo.send(
      new GetCommand({ TableName: ctx.tables.infoImages, Key: { pk: channelKey(site, channel) } }),
    ),
  );
  if (!result.Item) return undefined;
  const parsed = infoImageSchema.safeParse(result.Item);
  if (!parsed.success) {
    ctx.log.warn("an info image item of an unexpected shape is not shown", { site, channel, issues: parsed.error.issues });
    return undefined;
  }
  return parsed.data.expires_at > epochSeconds(now) ? parsed.data : undefined;
}

/** Clears every channel of the site that still shows this base filename; true when one did. */
export async function removeInfoImage(ctx: InfoContext, site: string, baseFilename: string): Promise<boolean> {
  let removed = false;
  for (const channel of INFO_CHANNELS) {
    try {
      await ctx.dynamo.send(
        new DeleteCommand({
          TableName: ctx.tables.infoImages,
          Key: { pk: channelKey(site, channel) },
          ConditionExpression: "base_filename = :base",
          ExpressionAttributeValues: { ":base": baseFilename },
        }),
      );
      removed = true;
    } catch (error) {
      // The channel shows another image (or none): it is not this one's to clear.
      if (!isConditionFailure(error)) throw dynamoFault("clear an info channel", error);
    }
  }
  return removed;
}
