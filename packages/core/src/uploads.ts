import { HeadObjectCommand, GetObjectCommand, S3ServiceException } from "@aws-sdk/client-s3";
import { createPresignedPost } from "@aws-sdk/s3-presigned-post";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { awsClients } from "./aws";
import { loadConfig } from "./config";
import { database } from "./db";
import { InvalidInputError, NotFoundError, TransientError } from "./errors";
import { parseObjectKey, type ArchiveDirectory, type ArchiveObjectKey } from "./fileName";
import type { FitsValue } from "./fitsHeader";
import { imageFieldsFromJson } from "./imageRecord";
import { recordHeader } from "./imageStore";
import { assignChannel, type InfoChannel } from "./infoChannels";
import { logger } from "./logger";
import { assertMayUpload, type UploadCaller } from "./siteTokens";

/** What a site needs to POST one file straight to S3: the form's action URL and its hidden fields. */
export interface PresignedUpload {
  url: string;
  fields: Record<string, string>;
}

/**
 * A presigned POST for exactly one object key. The policy pins the key, bounds the size and expires soon, so a leaked
 * form can neither write elsewhere nor be reused for long.
 */
export async function presignUpload(key: string): Promise<PresignedUpload> {
  const config = loadConfig();
  try {
    return await createPresignedPost(awsClients().s3Public, {
      Bucket: config.BUCKET_NAME,
      Key: key,
      Conditions: [
        { key },
        ["content-length-range", 1, config.MAX_UPLOAD_BYTES],
      ],
      Expires: config.UPLOAD_URL_EXPIRES_SECONDS,
    });
  } catch (error) {
    // Signing only fails when credentials cannot be resolved, which a later attempt may fix.
    throw new TransientError(`could not presign an upload of ${key}`, { cause: error });
  }
}

/** A presigned GET for one object key; it is computed locally and does not check that the object exists. */
export async function presignDownload(key: string): Promise<string> {
  const config = loadConfig();
  try {
    return await getSignedUrl(awsClients().s3Public, new GetObjectCommand({ Bucket: config.BUCKET_NAME, Key: key }), {
      expiresIn: config.DOWNLOAD_URL_EXPIRES_SECONDS,
    });
  } catch (error) {
    throw new TransientError(`could not presign a download of ${key}`, { cause: error });
  }
}

/** Whether the bucket holds the key; any answer other than found / not found is a transient fault. */
export async function objectExists(key: string): Promise<boolean> {
  try {
    await awsClients().s3.send(new HeadObjectCommand({ Bucket: loadConfig().BUCKET_NAME, Key: key }));
    return true;
  } catch (error) {
    if (error instanceof S3ServiceException && error.$metadata.httpStatusCode === 404) return false;
    throw new TransientError(`could not look up ${key} in the bucket`, { cause: error });
  }
}

/** A header sent with an upload request: keyword → value, with COMMENT and HISTORY as lists (as `headerToJson` writes). */
export type HeaderObject = Record<string, FitsValue | string[]>;

export interface UploadRequest {
  object_name: string;
  s3_directory: ArchiveDirectory;
  info_channel: InfoChannel;
  header?: HeaderObject;
}

export interface DownloadRequest {
  object_name: string;
  s3_directory: ArchiveDirectory;
}

/** The request's file as an object key; a name the archive would reject is refused before anything is signed. */
export function uploadObjectKey(directory: ArchiveDirectory, objectName: string): ArchiveObjectKey {
  try {
    return parseObjectKey(`${directory}/${objectName}`);
  } catch (error) {
    if (!(error instanceof InvalidInputError)) throw error;
    // The parser names the wrong part of the name; the caller needs to know which request field holds it.
    throw new InvalidInputError(`object_name ${error.message} (${error.field})`, "object_name");
  }
}

/**
 * POST /upload: checks the caller may upload this file, records what the request already tells us (the header, the
 * info channel) so it is queryable before the file arrives, and returns a presigned POST for exactly that key.
 */
export async function requestUpload(request: UploadRequest, caller: UploadCaller): Promise<PresignedUpload> {
  const key = uploadObjectKey(request.s3_directory, request.object_name);
  assertMayUpload(caller, key);
  if (request.header !== undefined) {
    // Info and allsky images live in DynamoDB, not in `images`; their headers arrive as .txt files.
    if (key.directory !== "data") throw new InvalidInputError("header is only accepted for data uploads", "header");
    await recordHeader(database(), key, imageFieldsFromJson(request.header));
  }
  if (key.directory === "info-images") {
    await assignChannel(key.site, request.info_channel, key.baseFilename);
  }
  const upload = await presignUpload(key.key);
  logger.info("upload presigned", { key: key.key, site: key.site, caller: caller.kind, header: request.header !== undefined });
  return upload;
}

/** POST /download: a presigned GET for one existing file; 404 when the bucket does not hold it. */
export async function requestDownload(request: DownloadRequest): Promise<{ url: string }> {
  const key = uploadObjectKey(request.s3_directory, request.object_name);
  if (!(await objectExists(key.key))) throw new NotFoundError(`no file ${key.key} in the archive`);
  return { url: await presignDownload(key.key) };
}
