import type { AwsContext } from "../platform/context";
import { NotFoundError } from "../platform/errors";
import { objectExists, presignDownload } from "../platform/presign";
import { requestedObjectKey, type DownloadRequest } from "./requests";

/** POST /download: a presigned GET for one existing file; 404 when the bucket does not hold it. */
export async function requestDownload(ctx: AwsContext, request: DownloadRequest): Promise<{ url: string }> {
  const key = requestedObjectKey(request.s3_directory, request.object_name);
  if (!(await objectExists(ctx, key.key))) throw new NotFoundError(`no file ${key.key} in the archive`);
  return { url: await presignDownload(ctx, key.key) };
}
