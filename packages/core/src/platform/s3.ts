import { Readable } from "node:stream";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import type { AwsContext } from "./context";
import { NotFoundError, TransientError } from "./errors";

/**
 * The S3 calls on the archive's bucket (config BUCKET_NAME, the one bucket every path uses): a missing object is
 * NotFoundError, any other failure transient.
 */
type S3Context = Pick<AwsContext, "s3" | "config">;

function isMissing(error: unknown): boolean {
  return error instanceof Error && (error.name === "NoSuchKey" || error.name === "NotFound");
}

function s3Fault(what: string, bucket: string, key: string, error: unknown): Error {
  if (isMissing(error)) return new NotFoundError(`S3 object s3://${bucket}/${key} does not exist`);
  return new TransientError(`S3: cannot ${what} s3://${bucket}/${key}: ${error instanceof Error ? error.message : String(error)}`, {
    cause: error,
  });
}

export interface ObjectHead {
  size: number;
  eTag: string;
  lastModified?: Date;
}

export async function headObject(ctx: S3Context, key: string): Promise<ObjectHead> {
  try {
    const head = await ctx.s3.send(new HeadObjectCommand({ Bucket: ctx.config.BUCKET_NAME, Key: key }));
    return {
      size: head.ContentLength ?? 0,
      eTag: (head.ETag ?? "").replace(/"/g, ""),
      ...(head.LastModified ? { lastModified: head.LastModified } : {}),
    };
  } catch (error) {
    throw s3Fault("read the head of", ctx.config.BUCKET_NAME, key, error);
  }
}

export async function getObjectBytes(ctx: S3Context, key: string): Promise<Buffer> {
  try {
    const response = await ctx.s3.send(new GetObjectCommand({ Bucket: ctx.config.BUCKET_NAME, Key: key }));
    if (!response.Body) throw new Error("the response has no body");
    return Buffer.from(await response.Body.transformToByteArray());
  } catch (error) {
    throw s3Fault("read", ctx.config.BUCKET_NAME, key, error);
  }
}

/**
 * Streams an object to `consume`, which reads only what it needs; the download is then aborted, so a large FITS
 * file is never fetched whole.
 */
export async function readObjectPrefix<T>(
  ctx: S3Context,
  key: string,
  consume: (chunks: AsyncIterable<Uint8Array>) => Promise<T>,
): Promise<T> {
  const abort = new AbortController();
  let body: Readable;
  try {
    const response = await ctx.s3.send(new GetObjectCommand({ Bucket: ctx.config.BUCKET_NAME, Key: key }), {
      abortSignal: abort.signal,
    });
    if (!(response.Body instanceof Readable)) throw new Error("the response body is not a Node stream");
    body = response.Body;
  } catch (error) {
    throw s3Fault("read", ctx.config.BUCKET_NAME, key, error);
  }
  try {
    return await consume(body);
  } finally {
    body.destroy();
    abort.abort();
  }
}

/** Writes an object; returns its ETag (unquoted). */
export async function putObject(ctx: S3Context, key: string, body: Buffer, contentType: string): Promise<string> {
  try {
    const result = await ctx.s3.send(
      new PutObjectCommand({ Bucket: ctx.config.BUCKET_NAME, Key: key, Body: body, ContentType: contentType }),
    );
    return (result.ETag ?? "").replace(/"/g, "");
  } catch (error) {
    throw s3Fault("write", ctx.config.BUCKET_NAME, key, error);
  }
}

/** Every key under a prefix. */
export async function listKeys(ctx: S3Context, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    try {
      const page = await ctx.s3.send(
        new ListObjectsV2Command({ Bucket: ctx.config.BUCKET_NAME, Prefix: prefix, ContinuationToken: token }),
      );
      for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } catch (error) {
      throw s3Fault("list", ctx.config.BUCKET_NAME, prefix, error);
    }
  } while (token);
  return keys;
}

/** Deletes one object; deleting a missing one is harmless (S3 answers the same). */
export async function deleteObject(ctx: S3Context, key: string): Promise<void> {
  try {
    await ctx.s3.send(new DeleteObjectCommand({ Bucket: ctx.config.BUCKET_NAME, Key: key }));
  } catch (error) {
    if (isMissing(error)) return;
    throw s3Fault("delete", ctx.config.BUCKET_NAME, key, error);
  }
}

/** An object's user metadata (x-amz-meta-*, names lower-case), or undefined when there is no such object. */
export async function objectMetadata(ctx: S3Context, key: string): Promise<Record<string, string> | undefined> {
  try {
    const head = await ctx.s3.send(new HeadObjectCommand({ Bucket: ctx.config.BUCKET_NAME, Key: key }));
    return head.Metadata ?? {};
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw s3Fault("read the head of", ctx.config.BUCKET_NAME, key, error);
  }
}

/**
 * Writes an object only where none exists (If-None-Match: *): "exists" when S3 refused it because one does. s3rver
 * ignores the condition and writes, so callers check for the object first as well.
 */
export async function putNewObject(
  ctx: S3Context,
  key: string,
  body: Buffer,
  options: { contentType: string; metadata: Record<string, string> },
): Promise<"written" | "exists"> {
  try {
    await ctx.s3.send(
      new PutObjectCommand({
        Bucket: ctx.config.BUCKET_NAME,
        Key: key,
        Body: body,
        ContentType: options.contentType,
        Metadata: options.metadata,
        IfNoneMatch: "*",
      }),
    );
    return "written";
  } catch (error) {
    // 412 when the object exists; 409 when a concurrent conditional write to the key is in progress.
    if (error instanceof Error && (error.name === "PreconditionFailed" || error.name === "ConditionalRequestConflict")) return "exists";
    throw s3Fault("write", ctx.config.BUCKET_NAME, key, error);
  }
}
