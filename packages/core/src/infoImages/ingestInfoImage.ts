import { isHeaderFile, readObjectHeader } from "../deliveries/objectHeaders";
import { imageNotice } from "../deliveries/notices";
import type { ObjectPipeline } from "../deliveries/ingest";
import { storeThumbnailOf } from "../exposures/thumbnails";
import { headerToJson } from "../fits/headerJson";
import type { AwsContext } from "../platform/context";
import { channelOf, recordInfoFile } from "./infoChannels";

/**
 * info-images/: a file of the channel the upload API assigned; a .txt brings the image's header. A file of another
 * extension changes no channel; its notice still names the channel, as every info-image notice does.
 */
export const infoImagePipeline: ObjectPipeline<AwsContext> = {
  directory: "info-images",
  async store(ctx, file, arrivedAt) {
    const header = file.extension === "txt" && isHeaderFile(file) ? headerToJson(await readObjectHeader(ctx, file)) : undefined;
    const channel = await recordInfoFile(ctx, { file, header, now: arrivedAt });
    await storeThumbnailOf(ctx, file);
    return imageNotice("info-images", file.site, file.baseFilename, channel);
  },
  async announce(ctx, file) {
    return imageNotice("info-images", file.site, file.baseFilename, await channelOf(ctx, file.site, file.baseFilename));
  },
};
