import { z } from "zod";
import { isHeaderFile, readObjectHeader } from "../deliveries/objectHeaders";
import { imageNotice } from "../deliveries/notices";
import type { ObjectPipeline } from "../deliveries/ingest";
import { storeThumbnail, thumbnailOf } from "../exposures/thumbnails";
import type { FitsHeader } from "../fits/header";
import { headerAsWritten } from "../fits/headerJson";
import type { AwsContext } from "../platform/context";
import { channelOf, recordInfoFile, type InfoImageHeader } from "./infoChannels";

const cardStringsSchema = z.record(z.string());

/**
 * The header as the old ingester stores it on a channel: the cards' values as written (the `images.header` rule), as a
 * map. A blank card's empty keyword is left out: it carries nothing, and a map key must not be empty.
 */
function headerMap(header: FitsHeader): InfoImageHeader {
  const values = cardStringsSchema.parse(JSON.parse(headerAsWritten(header)));
  delete values[""];
  return values;
}

/**
 * info-images/: a file of the channel the upload route assigned; a .txt brings the image's header. A file of another
 * extension changes no channel; its notice still names the channel, as every info-image notice does.
 */
export const infoImagePipeline: ObjectPipeline<AwsContext> = {
  directory: "info-images",
  async prepare(ctx, file, arrivedAt) {
    const header = file.extension === "txt" && isHeaderFile(file) ? headerMap(await readObjectHeader(ctx, file)) : undefined;
    const thumbnail = await thumbnailOf(ctx, file);
    return {
      async record(recordCtx) {
        const channel = await recordInfoFile(recordCtx, { file, header, now: arrivedAt });
        return imageNotice("info-images", file.site, file.baseFilename, channel);
      },
      ...(thumbnail ? { afterRecord: (afterCtx: AwsContext) => storeThumbnail(afterCtx, thumbnail) } : {}),
    };
  },
  async announce(ctx, file) {
    return imageNotice("info-images", file.site, file.baseFilename, await channelOf(ctx, file.site, file.baseFilename));
  },
};
