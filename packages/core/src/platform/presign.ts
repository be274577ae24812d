import { GetObjectCommand, HeadObjectCommand, S3ServiceException } from "@aws-sdk/client-s3";
import { createPresignedPost } from "@aws-sdk/s3-presigned-post";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import type { AwsContext } from "./context";
import { TransientError } from "./errors";

type PresignContext = Pick<AwsContext, "s3" | "s3Public" | "config">;

/** What a site needs to POST one file straight to S3: the form's action URL and its hidden fields. */
export interface PresignedUpload {
  url: string;
  fields: Record<string, string>;
}

/**
 * A presigned POST for exactly one object key. The policy pins the key, bounds the size and expires soon, so a leaked
 * form can neither write elsewhere nor be reused for long.
 */
export async function presignUpload(ctx: PresignContext, key: string): Promise<PresignedUpload> {
  const { config } = ctx;
  try {
    return await createPresignedPost(ctx.s3Public, {
      Bucket: config.BUCKET_NAME,
      Key: key,
      Conditions: [{ key }, ["content-length-range", 1, config.MAX_UPLOAD_BYTES]],
      Expires: config.UPLOAD_URL_EXPIRES_SECONDS,
    });
  } catch (error) {
    // Signing only fails when credentials cannot be resolved, which a later attempt may fix.
    throw new TransientError(`could not presign an upload of ${key}`, { cause: error });
  }
}

/** Which kind of link: a read API's image link or a download's; each has its lifetime in the config. */
export type LinkKind = "image" | "download";

/** A presigned GET for one object key; it is computed locally and does not check that the object exists. */
export async function presignDownload(ctx: PresignContext, key: string, kind: LinkKind): Promise<string> {
  const { config } = ctx;
  try {
    return await getSignedUrl(ctx.s3Public, new GetObjectCommand({ Bucket: config.BUCKET_NAME, Key: key }), {
      expiresIn: kind === "image" ? config.IMAGE_URL_EXPIRES_SECONDS : config.DOWNLOAD_URL_EXPIRES_SECONDS,
    });
  } catch (error) {
    throw new TransientError(`could not presign a download of ${key}`, { cause: error });
  }
}

/** Whether the bucket holds the key; any answer other than found / not found is a transient fault. */
export async function objectExists(ctx: PresignContext, key: string): Promise<boolean> {
  try {
    await ctx.s3.send(new HeadObjectCommand({ Bucket: ctx.config.BUCKET_NAME, Key: key }));
    return true;
  } catch (error) {
    if (error instanceof S3ServiceException && error.$metadata.httpStatusCode === 404) return false;
    throw new TransientError(`could not look up ${key} in the bucket`, { cause: error });
  }
}
