import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { z } from "zod";
import { hoursToMs } from "../deliveries/retention";
import type { KnownObjectKey } from "../names/fileName";
import { INFO_IMAGE_LINKS, infoFileAttributes } from "../names/storedFiles";
import type { AwsContext } from "../platform/context";
import { dynamoCall, dynamoFault, epochSeconds, isConditionFailure, setAttributes, updateIfCondition } from "../platform/dynamo";
import { InvalidInputError } from "../platform/errors";

type InfoContext = Pick<AwsContext, "dynamo" | "tables">;

/**
 * The `info-images` table, as the running system shapes it (CONTRACTS.md) and its upload route, ingester and read API
 * use it: `{site}#metadata` holds channel1..3 = the base filename the upload route assigned; `{site}#{n}` holds
 * channel n's current image: base_filename, expiration_timestamp (the TTL), data_type, file_date, per file
 * `{ext}_{RR}_file_path` and its flag (names/storedFiles.ts), and the header of a .txt as a map of the cards' strings.
 */
export const INFO_CHANNELS = [1, 2, 3] as const;
export type InfoChannel = (typeof INFO_CHANNELS)[number];

const linkShape = Object.fromEntries(
  INFO_IMAGE_LINKS.flatMap(({ flag, path }) => [
    [flag, z.boolean().optional()],
    [path, z.string().optional()],
  ]),
) as Record<(typeof INFO_IMAGE_LINKS)[number]["flag"], z.ZodOptional<z.ZodBoolean>> &
  Record<(typeof INFO_IMAGE_LINKS)[number]["path"], z.ZodOptional<z.ZodString>>;

export const infoImageSchema = z
  .object({
    pk: z.string(),
    base_filename: z.string(),
    expiration_timestamp: z.number(),
    data_type: z.string().optional(),
    file_date: z.string().optional(),
    header: z.record(z.unknown()).optional(),
    ...linkShape,
  })
  .passthrough();
export type InfoImage = z.infer<typeof infoImageSchema>;

/** A header as the running system stores it on a channel: keyword → the card's value as written. */
export type InfoImageHeader = Record<string, string>;

export function parseInfoChannel(value: unknown): InfoChannel {
  const channel = Number(value);
  if (channel === 1 || channel === 2 || channel === 3) return channel;
  throw new InvalidInputError(`info channel ${JSON.stringify(value)} is not 1, 2 or 3`, "info_channel");
}

const metadataKey = (site: string) => `${site}#metadata`;
const channelKey = (site: string, channel: InfoChannel) => `${site}#${channel}`;

/** The upload route's half: the channel's next image is this base filename (exactly the old route's write). */
export async function assignChannel(ctx: InfoContext, site: string, channel: InfoChannel, baseFilename: string): Promise<void> {
  await dynamoCall("assign an info channel", () =>
    ctx.dynamo.send(
      new UpdateCommand({
        TableName: ctx.tables.infoImages,
        Key: { pk: metadataKey(site) },
        UpdateExpression: "SET #channel = :base",
        ExpressionAttributeNames: { "#channel": `channel${channel}` },
        ExpressionAttributeValues: { ":base": baseFilename },
      }),
    ),
  );
}

/** The channel the upload route (ours or the old one) assigned this base filename to; bad input when it assigned none. */
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
  file: KnownObjectKey;
  /** The header of a .txt, as written in its cards. */
  header?: InfoImageHeader;
  /** When the file arrived: the channel shows it INFO_IMAGE_TTL_HOURS from then. */
  now: Date;
}

/**
 * Records a file of the channel's current image, which its metadata item names (a file of another base filename was
 * replaced there since, or never assigned, and is rejected): adds to the channel's item when it holds this base
 * filename, else replaces the item, as the old ingester deletes an item of another base filename first. Returns the
 * channel.
 */
export async function recordInfoFile(
  ctx: Pick<AwsContext, "dynamo" | "tables" | "config">,
  { file, header, now }: InfoFile,
): Promise<InfoChannel> {
  const channel = await channelOf(ctx, file.site, file.baseFilename);
  const fields = {
    expiration_timestamp: epochSeconds(new Date(now.getTime() + hoursToMs(ctx.config.INFO_IMAGE_TTL_HOURS))),
    data_type: file.dataType,
    file_date: file.date,
    ...infoFileAttributes(file),
    ...(header === undefined ? {} : { header }),
  };
  const TableName = ctx.tables.infoImages;
  const Key = { pk: channelKey(file.site, channel) };
  // Two files of a new image may arrive at once: whoever loses the replace adds to the item the other one wrote.
  for (let attempt = 0; attempt < 3; attempt++) {
    const update = setAttributes(fields);
    const added = await updateIfCondition(ctx, "update an info channel", {
      TableName,
      Key,
      ...update,
      ConditionExpression: "base_filename = :base",
      ExpressionAttributeValues: { ...update.ExpressionAttributeValues, ":base": file.baseFilename },
    });
    if (added) return channel;
    try {
      await ctx.dynamo.send(
        new PutCommand({
          TableName,
          Item: { ...Key, base_filename: file.baseFilename, ...fields },
          ConditionExpression: "attribute_not_exists(pk) OR base_filename <> :base",
          ExpressionAttributeValues: { ":base": file.baseFilename },
        }),
      );
      return channel;
    } catch (error) {
      if (!isConditionFailure(error)) throw dynamoFault("replace an info channel", error);
    }
  }
  throw dynamoFault("record an info image file", new Error(`channel ${channel} of ${file.site} kept changing`));
}

/** Channel n's image, or undefined when there is none or it is past its expiration_timestamp. */
export async function infoImage(
  ctx: Pick<AwsContext, "dynamo" | "tables" | "log">,
  site: string,
  channel: InfoChannel,
  now: Date,
): Promise<InfoImage | undefined> {
  const result = await dynamoCall("read an info image", () =>
    ctx.dynamo.send(new GetCommand({ TableName: ctx.tables.infoImages, Key: { pk: channelKey(site, channel) } })),
  );
  if (!result.Item) return undefined;
  const parsed = infoImageSchema.safeParse(result.Item);
  if (!parsed.success) {
    ctx.log.warn("an info image item of an unexpected shape is not shown", { site, channel, issues: parsed.error.issues });
    return undefined;
  }
  return parsed.data.expiration_timestamp > epochSeconds(now) ? parsed.data : undefined;
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
