import { imageFieldsFromJson } from "../exposures/imageRecord";
import { recordAnnouncement } from "../exposures/exposureStatus";
import { recordHeader } from "../exposures/imageStore";
import { assignChannel } from "../infoImages/infoChannels";
import type { ArchiveContext } from "../platform/context";
import { InvalidInputError } from "../platform/errors";
import { presignUpload, type PresignedUpload } from "../platform/presign";
import { requestedObjectKey, type UploadRequest } from "./requests";
import { authorizeUpload, type ApiCaller } from "./siteTokens";

/**
 * POST /upload: checks the caller may upload this file, records what the request already tells us (the header, the
 * info channel) so it is queryable before the file arrives, and returns a presigned POST for exactly that key.
 */
export async function requestUpload(ctx: ArchiveContext, request: UploadRequest, caller: ApiCaller): Promise<PresignedUpload> {
  const key = requestedObjectKey(request.s3_directory, request.object_name);
  await authorizeUpload(ctx, caller, key);
  if (request.header !== undefined) {
    // Info and allsky images live in DynamoDB, not in `images`; their headers arrive as .txt files.
    if (key.directory !== "data") throw new InvalidInputError("header is only accepted for data uploads", "header");
    await recordHeader(ctx.db, key, imageFieldsFromJson(request.header), ctx.clock());
    await recordAnnouncement(ctx.db, key, ctx.clock());
  }
  if (key.directory === "info-images") {
    await assignChannel(ctx, key.site, request.info_channel, key.baseFilename);
  }
  const upload = await presignUpload(ctx, key.key);
  ctx.log.info("upload presigned", { key: key.key, site: key.site, caller: caller.kind, header: request.header !== undefined });
  return upload;
}
