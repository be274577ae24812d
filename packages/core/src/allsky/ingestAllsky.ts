import { isHeaderFile, readObjectHeader } from "../deliveries/objectHeaders";
import { imageNotice } from "../deliveries/notices";
import type { ObjectPipeline } from "../deliveries/ingest";
import { storeThumbnail, thumbnailOf } from "../exposures/thumbnails";
import { headerToJson } from "../fits/headerJson";
import type { AwsContext } from "../platform/context";
import { recordAllskyFile } from "./allskyImages";

/** allsky/: a file of an allsky exposure; a .txt brings its header. */
export const allskyPipeline: ObjectPipeline<AwsContext> = {
  directory: "allsky",
  async prepare(ctx, file, arrivedAt) {
    const header = file.extension === "txt" && isHeaderFile(file) ? headerToJson(await readObjectHeader(ctx, file)) : undefined;
    const thumbnail = await thumbnailOf(ctx, file);
    return {
      async record(recordCtx) {
        await recordAllskyFile(recordCtx, { file, header, now: arrivedAt });
        return imageNotice("allsky", file.site, file.baseFilename);
      },
      ...(thumbnail ? { afterRecord: (afterCtx: AwsContext) => storeThumbnail(afterCtx, thumbnail) } : {}),
    };
  },
};
