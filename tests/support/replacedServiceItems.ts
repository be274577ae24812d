import { DeleteCommand, GetCommand, PutCommand, QueryCommand, ScanCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { AwsContext } from "@archive/core/platform/context";
import { isConditionFailure } from "@archive/core/platform/dynamo";
import { getObjectBytes } from "@archive/core/platform/s3";
import { scanHeaderFile } from "./replacedService";

/**
 * The running system's DynamoDB items, re-expressed from its Python so tests can put its items next to this archive's
 * and read ours as it reads them: the ingester (LCOGT/ptr_data at a267d1f, lambda_service/s3_log.py, info_images.py,
 * expirations.py), its upload route and read API (LCOGT/photonranch-api at e3b69d9, api/handler.py upload and
 * get_recent_uploads, api/info_images.py). Each call is the boto3 call the Python makes, with the values it holds.
 */

type ItemContext = Pick<AwsContext, "dynamo" | "tables">;
type Item = Record<string, unknown>;

/** helpers.parse_file_key: extension = the part after the first dot up to the next; type letters and reduction digits. */
function parseFileKey(fileKey: string) {
  const [withoutExtension = "", extensions = ""] = splitOnce(fileKey, ".");
  const [site = "", instrument = "", fileDate = "", counter = "", typeLevel = ""] = withoutExtension.split("-");
  const [, dataType = "", reductionLevel = ""] = /^([a-zA-Z]+)([0-9]+)/.exec(typeLevel) ?? [];
  return {
    baseFilename: [site, instrument, fileDate, counter].join("-"),
    fileExtension: extensions.split(".")[0] ?? "",
    site,
    fileDate,
    dataType,
    reductionLevel,
  };
}

function splitOnce(text: string, separator: string): [string, string] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, ""] : [text.slice(0, at), text.slice(at + 1)];
}

// ---- the ingester (ptr_data) -------------------------------------------------------------------------------------

/** s3_log.add_to_recent_uploads_log, as log_new_upload calls it for every data/ object: whole seconds, 48 h TTL. */
export async function oldIngesterLogsUpload(
  ctx: ItemContext,
  filename: string,
  uploadTimestampS: number,
  sizeBytes: number,
): Promise<Item> {
  const site = (filename.split("/").at(-1) ?? "").split("-")[0] ?? "";
  const item = {
    site,
    upload_timestamp_s: Math.trunc(uploadTimestampS),
    expire_timestamp_s: Math.trunc(uploadTimestampS + 48 * 3600),
    filename,
    size_bytes: Math.trunc(sizeBytes),
  };
  await ctx.dynamo.send(new PutCommand({ TableName: ctx.tables.uploadLog, Item: item }));
  return item;
}

/** info_images.get_info_channel: the `channelN` attribute of the metadata item whose value is the base filename. */
export function oldIngesterChannelOf(baseFilename: string, siteMetadata: Item): number | undefined {
  for (const [key, value] of Object.entries(siteMetadata)) {
    if (value === baseFilename && key.includes("channel") && key.length === 8) return Number(key.split("channel")[1]);
  }
  return undefined;
}

/**
 * info_images.handle_info_image_created for one info-images/ object: finds the channel in `{site}#metadata`, deletes
 * the channel's item when it holds another base filename, then sets the file's attributes (and, for a .txt, the
 * header: scan_header_file without its JSON key). Returns the channel, or undefined where the Python returns early.
 */
export async function oldIngesterRecordsInfoImage(ctx: Pick<AwsContext, "dynamo" | "tables" | "s3" | "config">, filePath: string, now: Date) {
  const fileKey = filePath.slice(filePath.indexOf("/") + 1);
  const { baseFilename, fileExtension, site, fileDate, dataType, reductionLevel } = parseFileKey(fileKey);
  const TableName = ctx.tables.infoImages;
  const metadata = (await ctx.dynamo.send(new GetCommand({ TableName, Key: { pk: `${site}#metadata` } }))).Item ?? {};
  const channel = oldIngesterChannelOf(baseFilename, metadata);
  if (channel === undefined) return undefined;
  const pk = `${site}#${channel}`;
  try {
    await ctx.dynamo.send(
      new DeleteCommand({
        TableName,
        Key: { pk },
        ConditionExpression: "base_filename <> :bf",
        ExpressionAttributeValues: { ":bf": baseFilename },
      }),
    );
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
  }
  let fileExistsKey: string;
  if (fileExtension === "jpg" && reductionLevel === "10") fileExistsKey = "jpg_medium_exists";
  else if (fileExtension === "jpg" && reductionLevel === "11") fileExistsKey = "jpg_small_exists";
  else if (fileExtension === "fits") fileExistsKey = `fits_${reductionLevel}_exists`;
  else fileExistsKey = `other_${fileExtension}_${reductionLevel}_exists`;
  await ctx.dynamo.send(
    new UpdateCommand({
      TableName,
      Key: { pk },
      UpdateExpression: `set base_filename=:bf, expiration_timestamp=:et, data_type=:dt, file_date=:fd, ${fileExtension}_${reductionLevel}_file_path=:filepath, ${fileExistsKey}=:fileexists`,
      ExpressionAttributeValues: {
        ":bf": baseFilename,
        ":et": Math.trunc(now.getTime() / 1000) + 48 * 3600,
        ":dt": dataType,
        ":fd": fileDate,
        ":filepath": filePath,
        ":fileexists": true,
      },
    }),
  );
  if (fileExtension === "txt") {
    const header = Object.fromEntries(scanHeaderFile(await getObjectBytes(ctx, filePath)).values);
    await ctx.dynamo.send(
      new UpdateCommand({ TableName, Key: { pk }, UpdateExpression: "set header=:h", ExpressionAttributeValues: { ":h": header } }),
    );
  }
  return channel;
}

/** expirations.add_expiration_entry: `{pk, s3_directory, expiration_timestamp_s}`, unless the base filename has one. */
export async function oldIngesterTracksExpiration(
  ctx: ItemContext,
  baseFilename: string,
  timeToLiveS: number,
  now: Date,
  s3Directory = "data",
): Promise<Item> {
  const entry = { pk: baseFilename, s3_directory: s3Directory, expiration_timestamp_s: Math.trunc(now.getTime() / 1000 + timeToLiveS) };
  try {
    await ctx.dynamo.send(
      new PutCommand({ TableName: ctx.tables.expirations, Item: entry, ConditionExpression: "attribute_not_exists(pk)" }),
    );
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
  }
  return entry;
}

/**
 * expirations.remove_expired_data_handler on one stream record: what it removes (the S3 prefix `{dir}/{pk}`, and the
 * row for data/), read from the record's Keys and OldImage; undefined for a record it skips. It raises where the
 * Python raises: on a directory other than data and info-images (its log line names a variable never set).
 */
export function oldRemoverReads(record: { eventName?: string; dynamodb?: { Keys?: unknown; OldImage?: unknown } }) {
  if (record.eventName !== "REMOVE") return undefined;
  const image = record.dynamodb?.OldImage as Record<string, { S?: string }> | undefined;
  const keys = record.dynamodb?.Keys as Record<string, { S?: string }> | undefined;
  const s3Directory = image?.["s3_directory"]?.S;
  if (s3Directory === undefined) throw new Error("KeyError: 's3_directory'");
  if (s3Directory !== "data" && s3Directory !== "info-images") {
    throw new Error("UnboundLocalError: local variable 'base_filename' referenced before assignment");
  }
  const baseFilename = keys?.["pk"]?.S;
  if (baseFilename === undefined) throw new Error("KeyError: 'pk'");
  return { s3Directory, baseFilename, prefix: `${s3Directory}/${baseFilename}`, removesRow: s3Directory === "data" };
}

// ---- the upload route and read API (photonranch-api) -------------------------------------------------------------

/** handler.upload for s3_directory info-images: `set channel{n}=:basefilename` on `{site}#metadata`. */
export async function oldRouteAssignsChannel(ctx: ItemContext, objectName: string, channel: number): Promise<void> {
  const site = objectName.split("-")[0] ?? "";
  const baseFilename = objectName.split("-").slice(0, 4).join("-");
  await ctx.dynamo.send(
    new UpdateCommand({
      TableName: ctx.tables.infoImages,
      Key: { pk: `${site}#metadata` },
      UpdateExpression: `set channel${channel}=:basefilename`,
      ExpressionAttributeValues: { ":basefilename": baseFilename },
    }),
  );
}

/** handler.get_recent_uploads: `query(KeyConditionExpression=Key('site').eq(site))`, or `scan()` for "all"; one page. */
export async function oldApiRecentUploads(ctx: ItemContext, site: string): Promise<Item[]> {
  const TableName = ctx.tables.uploadLog;
  const response =
    site === "all"
      ? await ctx.dynamo.send(new ScanCommand({ TableName }))
      : await ctx.dynamo.send(
          new QueryCommand({ TableName, KeyConditionExpression: "site = :site", ExpressionAttributeValues: { ":site": site } }),
        );
  return response.Items ?? [];
}

/**
 * info_images.get_info_image_package: the item spread, the flags with False defaults, and a URL per flagged file
 * from `jpg_10_file_path`, `jpg_11_file_path`, `fits_01_file_path`, `fits_10_file_path`; a missing item or path is a
 * KeyError, answered 204. get_s3_file_url is the key it would presign, as `s3://{key}`.
 */
export async function oldApiInfoImagePackage(ctx: ItemContext, site: string, channel: string): Promise<{ status: 200 | 204; body?: Item }> {
  const infoImage = (await ctx.dynamo.send(new GetCommand({ TableName: ctx.tables.infoImages, Key: { pk: `${site}#${channel}` } }))).Item;
  if (infoImage === undefined || !("base_filename" in infoImage)) return { status: 204 };
  const pkg: Item = {
    ...infoImage,
    site,
    channel,
    base_filename: infoImage["base_filename"],
    jpg_medium_exists: infoImage["jpg_medium_exists"] ?? false,
    jpg_small_exists: infoImage["jpg_small_exists"] ?? false,
    fits_01_exists: infoImage["fits_01_exists"] ?? false,
    fits_10_exists: infoImage["fits_10_exists"] ?? false,
    s3_directory: "info-images",
  };
  const links = [
    ["jpg_medium_exists", "jpg_10_file_path", "jpg_url"],
    ["jpg_small_exists", "jpg_11_file_path", "jpg_small_url"],
    ["fits_01_exists", "fits_01_file_path", "fits_01_url"],
    ["fits_10_exists", "fits_10_file_path", "fits_10_url"],
  ] as const;
  for (const [flag, path, url] of links) {
    if (!pkg[flag]) continue;
    const key = infoImage[path];
    if (typeof key !== "string") return { status: 204 };
    pkg[url] = `s3://${key}`;
  }
  return { status: 200, body: pkg };
}
