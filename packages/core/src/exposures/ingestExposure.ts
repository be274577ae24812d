import { isHeaderFile, readObjectHeader } from "../deliveries/objectHeaders";
import { imageNotice } from "../deliveries/notices";
import type { ObjectPipeline } from "../deliveries/ingest";
import { dataExpiryOf } from "../expirations/expiryPolicies";
import type { ArchiveContext } from "../platform/context";
import { publishArchivedExposure } from "./archivedEvent";
import { recordArrival } from "./exposureStatus";
import { imageFieldsFromHeader } from "./imageRecord";
import { schedulePreviewCheck, schedulesPreviewCheck } from "../previews/previewChecks";
import { exposureFiles, recordFile, recordHeader, recordHeaderIfAbsent, writeTogether } from "./imageStore";
import { storeThumbnail, thumbnailOf } from "./thumbnails";

/**
 * data/: each file of an exposure updates its `images` row. A .txt is the header; a FITS file sets its flag and, when
 * no header came first, gives its own, and, while the exposure has no medium jpg, schedules its preview check
 * (previews/previewChecks.ts); a medium jpg sets its flag and gets its thumbnail. The files are read first;
 * the rows of a batch's files are then written in one transaction, and the thumbnails stored once it is committed.
 * Each file also records its arrival on the exposure's status (exposureStatus.ts) in the same transaction; the file
 * that finds the exposure complete and not yet archived publishes its archived event once committed (archivedEvent.ts).
 */
export const exposurePipeline: ObjectPipeline<ArchiveContext> = {
  directory: "data",
  async prepare(ctx, file, arrivedAt) {
    const notice = imageNotice("data", file.site, file.baseFilename);
    // Set by the record (the last attempt's, when a batch's records are retried one by one), read after the commit.
    let unarchived = false;
    const publishWhenComplete = (afterCtx: ArchiveContext) =>
      unarchived ? publishArchivedExposure(afterCtx, file.baseFilename).then(() => undefined) : Promise.resolve();
    if (file.extension === "txt" && isHeaderFile(file)) {
      const fields = imageFieldsFromHeader(await readObjectHeader(ctx, file));
      return {
        async record({ db }) {
          await recordHeader(db, file, fields, arrivedAt);
          unarchived = await recordArrival(db, file, arrivedAt);
          return notice;
        },
        afterRecord: publishWhenComplete,
      };
    }
    // One read of the row for a FITS file: whether it has a header, and whether a preview check is due.
    const known = isHeaderFile(file) ? await exposureFiles(ctx.db, file.baseFilename) : undefined;
    // Read only when the row has no header yet; a header that comes meanwhile still wins (recordHeaderIfAbsent).
    const ownHeader =
      isHeaderFile(file) && !known?.hasHeader ? imageFieldsFromHeader(await readObjectHeader(ctx, file)) : undefined;
    const thumbnail = await thumbnailOf(ctx, file);
    const previewCheck = schedulesPreviewCheck(ctx, file, known);
    return {
      async record({ db }) {
        await recordFile(db, file, arrivedAt);
        if (ownHeader) await recordHeaderIfAbsent(db, file, ownHeader, arrivedAt);
        unarchived = await recordArrival(db, file, arrivedAt);
        return notice;
      },
      // The event first: its failure (the database gone) then retries the delivery before the thumbnail is written, so
      // a retry never writes the thumbnail twice (a second object event, a second upload-log entry); a retry after
      // the event finds it published (archived_at) and sends none again.
      async afterRecord(afterCtx: ArchiveContext) {
        await publishWhenComplete(afterCtx);
        if (thumbnail) await storeThumbnail(afterCtx, thumbnail);
        if (previewCheck) await schedulePreviewCheck(afterCtx, file);
      },
    };
  },
  recordTogether: (ctx, records) => writeTogether(ctx.db, (db) => records({ ...ctx, db })),
  // The expiry_policies table's lifetimes, read at most once a minute per process.
  expiryOf: dataExpiryOf,
};
