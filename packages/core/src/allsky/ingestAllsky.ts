import { isHeaderFile, readObjectHeader } from "../deliveries/objectHeaders";
import { imageNotice } from "../deliveries/notices";
import type { ObjectPipeline } from "../deliveries/ingest";
import { storeThumbnailOf } from "../exposures/thumbnails";
import { headerToJson } from "../fits/headerJson";
import type { AwsContext } from "../platform/context";
import { recordAllskyFile } from "./allskyImages";

/** allsky/: a file of an allsky exposure; a .txt brings its header. */
export const allskyPipeline: ObjectPipeline<AwsContext> = {
  directory: "allsky",
  async store(ctx, file, arrivedAt) {
    const header = file.extension === "txt" && isHeaderFile(file) ? headerToJson(await readObjectHeader(ctx, file)) : undefined;
    await recordAllskyFile(ctx, { file, header, now: arrivedAt });
    await storeThumbnailOf(ctx, file);
    return imageNotice("allsky", file.site, file.baseFilename);
  },
};
