import { isHeaderFile, readObjectHeader } from "../deliveries/objectHeaders";
import { imageNotice } from "../deliveries/notices";
import type { ObjectPipeline } from "../deliveries/ingest";
import type { ArchiveContext } from "../platform/context";
import { imageFieldsFromHeader } from "./imageRecord";
import { hasHeader, recordFile, recordHeader } from "./imageStore";
import { storeThumbnailOf } from "./thumbnails";

/**
 * data/: each file of an exposure updates its `images` row. A .txt is the header; a FITS file sets its flag and, when
 * no header came first, gives its own; a medium jpg sets its flag and gets its thumbnail.
 */
export const exposurePipeline: ObjectPipeline<ArchiveContext> = {
  directory: "data",
  async store(ctx, file, arrivedAt) {
    const { db } = ctx;
    if (file.extension === "txt" && isHeaderFile(file)) {
      await recordHeader(db, file, imageFieldsFromHeader(await readObjectHeader(ctx, file)), arrivedAt);
    } else {
      await recordFile(db, file, arrivedAt);
      if (isHeaderFile(file) && !(await hasHeader(db, file.baseFilename))) {
        await recordHeader(db, file, imageFieldsFromHeader(await readObjectHeader(ctx, file)), arrivedAt);
      }
      if (file.extension === "jpg") await storeThumbnailOf(ctx, file);
    }
    return imageNotice("data", file.site, file.baseFilename);
  },
};
