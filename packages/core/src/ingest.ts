import { recordAllskyFile } from "./allsky";
import { loadConfig } from "./config";
import { imageNotice, notify, type ImageNotice } from "./datastream";
import { database } from "./db";
import { InvalidInputError } from "./errors";
import { expirationFor, trackExpiration } from "./expirations";
import { isMediumJpg, parseObjectKey, thumbnailKey, type ArchiveObjectKey } from "./fileName";
import { headerToJson, parseHeaderText, readFitsHeader, type FitsHeader } from "./fitsHeader";
import { imageFieldsFromHeader } from "./imageRecord";
import { hasHeader, recordFile, recordHeader } from "./imageStore";
import { recordInfoFile } from "./infoChannels";
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { logger, metrics } from "./logger";
import { claimNotice, recordDelivery, recordNotified, releaseNoticeClaim } from "./objectDeliveries";
import { getObjectBytes, headObject, putObject, readObjectPrefix } from "./s3Objects";
import type { ObjectRef } from "./s3Events";
import { makeThumbnail } from "./thumbnails";
import { logUpload } from "./uploadLog";

/**
 * One S3 object → everything the archive keeps about it: the upload log, the expiration entry, the `images` row (data/),
 * the channel item (info-images/) or allsky item, the thumbnail of a medium jpg, and one notice to the datastreamer.
 * Every step is idempotent and an event counts as finished only once its notice is recorded as sent, so a retry after a
 * failure anywhere finishes the work, and a repeated delivery of a finished event does nothing. The notice is sent at
 * least once: a crash after claiming it lets the retry reclaim it when the claim's lease ends; a crash between sending
 * and recording it sends it twice.
 */
export type IngestOutcome =
  | { status: "ingested"; notice: ImageNotice | undefined }
  /** This event was already fully processed. */
  | { status: "duplicate" }
  /** A newer event of the same object exists and does the work. */
  | { status: "stale" };

const LOG_KEYS = ["key", "site", "base_filename"];

/** Throws InvalidInputError / NotFoundError for what can never succeed (acknowledge), anything else to retry. */
export async function ingestObject(ref: ObjectRef): Promise<IngestOutcome> {
  logger.appendKeys({ key: ref.key });
  try {
    const file = await parseLoggingInvalid(ref);
    logger.appendKeys({ site: file.site, base_filename: file.baseFilename });
    // Every arrival is logged; a repeated delivery rewrites the same entry.
    await logUpload({ key: ref.key, size: ref.size, uploadedAt: ref.eventTime, sequencer: ref.sequencer });
    const verdict = await recordDelivery(ref);
    if (verdict !== "process") {
      logger.info("delivery needs no work", { verdict, sequencer: ref.sequencer });
      return { status: verdict === "done" ? "duplicate" : "stale" };
    }
    await headObject(ref.bucket, ref.key);
    const expiresAt = expirationFor(file, ref.eventTime);
    if (expiresAt) await trackExpiration(file, expiresAt);

    const notice = await storeFile(ref.bucket, file, ref.eventTime);
    // Of concurrent deliveries one claims the notice; the others' work is done and their notice is the claimant's.
    const claim = await claimNotice(ref);
    if (claim) {
      try {
        await notify(notice);
      } catch (error) {
        await releaseNoticeClaim(ref, claim);
        throw error;
      }
      await recordNotified(ref);
    }
    logger.info("ingested", { notice_sent: claim !== undefined });
    return { status: "ingested", notice: claim ? notice : undefined };
  } finally {
    logger.removeKeys(LOG_KEYS);
  }
}

/** An invalid key is still logged (under the site its name suggests) before it is rejected. */
async function parseLoggingInvalid(ref: ObjectRef): Promise<ArchiveObjectKey> {
  try {
    return parseObjectKey(ref.key);
  } catch (error) {
    if (!(error instanceof InvalidInputError)) throw error;
    await logUpload({ key: ref.key, size: ref.size, uploadedAt: ref.eventTime, sequencer: ref.sequencer });
    throw error;
  }
}

async function storeFile(bucket: string, file: ArchiveObjectKey, arrivedAt: Date): Promise<ImageNotice> {
  switch (file.directory) {
    case "data":
      await storeExposureFile(bucket, file);
      return imageNotice("data", file.site, file.baseFilename);
    case "info-images": {
      const header = file.extension === "txt" ? await readTxtHeader(bucket, file) : undefined;
      const channel = await recordInfoFile({ file, header });
      await makeThumbnailOf(bucket, file);
      return imageNotice("info-images", file.site, file.baseFilename, channel);
    }
    case "allsky": {
      const header = file.extension === "txt" ? await readTxtHeader(bucket, file) : undefined;
      await recordAllskyFile({ file, header, now: arrivedAt });
      await makeThumbnailOf(bucket, file);
      return imageNotice("allsky", file.site, file.baseFilename);
    }
  }
}

async function storeExposureFile(bucket: string, file: ArchiveObjectKey): Promise<void> {
  const db = database();
  if (file.extension === "txt") {
    const header = parseHeaderText(await getObjectBytes(bucket, file.key));
    logHeaderProblems(header);
    await recordHeader(db, file, imageFieldsFromHeader(header));
    return;
  }
  await recordFile(db, file);
  if (file.extension === "fits" && !(await hasHeader(db, file.baseFilename))) {
    const header = await readObjectPrefix(bucket, file.key, (chunks) => readFitsHeader(chunks, file.compression));
    logHeaderProblems(header);
    await recordHeader(db, file, imageFieldsFromHeader(header));
  }
  if (file.extension === "jpg") await makeThumbnailOf(bucket, file);
}

async function readTxtHeader(bucket: string, file: ArchiveObjectKey): Promise<string> {
  const header = parseHeaderText(await getObjectBytes(bucket, file.key));
  logHeaderProblems(header);
  return headerToJson(header);
}

function logHeaderProblems(header: FitsHeader): void {
  if (header.problems.length > 0) logger.warn("the header is stored as parsed, with problems", { problems: header.problems });
}

/**
 * A medium jpg (reduction 10 or 13) gets its thumbnail next to it; the thumbnail's own event then records it like any
 * upload. A thumbnail (reduction 11) is never a medium jpg, so nothing is made from one. A corrupt jpg gets none.
 */
async function makeThumbnailOf(bucket: string, file: ArchiveObjectKey): Promise<void> {
  if (!isMediumJpg(file)) return;
  const jpg = await getObjectBytes(bucket, file.key);
  let thumbnail: Buffer;
  try {
    thumbnail = await makeThumbnail(jpg, loadConfig().THUMBNAIL_HEIGHT);
  } catch (error) {
    if (!(error instanceof InvalidInputError)) throw error;
    logger.error("no thumbnail: the jpg cannot be read", { error: error.message });
    metrics.addMetric("ThumbnailsSkipped", MetricUnit.Count, 1);
    return;
  }
  await putObject(bucket, thumbnailKey(file), thumbnail, "image/jpeg");
}
