import { isKnownFile, parseObjectKey, type ArchiveDirectory, type ArchiveObjectKey, type KnownObjectKey } from "../names/fileName";
import type { AwsContext } from "../platform/context";
import { InvalidInputError } from "../platform/errors";
import { headObject } from "../platform/s3";
import { trackExpiration } from "../expirations/expirationTracker";
import { imageNotice, sendNoticeOnce, type ImageNotice } from "./notices";
import { recordDelivery } from "./objectDeliveries";
import { expiryOf } from "./retention";
import type { ObjectRef } from "./s3Events";
import { logUpload } from "./uploadLog";

/**
 * One S3 object → everything the archive keeps about it. The steps every prefix shares live here: the upload log, the
 * delivery record (sequencer order), the expiration entry, and one notice to the datastreamer; what a file means is
 * its prefix's pipeline (exposures, info images, allsky). A file of an extension the archive does not read (.png,
 * .csv, .json…) is logged, tracked for expiry with its exposure and announced like any other, and nothing more. Every
 * step is idempotent and an event counts as finished only once its notice is recorded as sent, so a retry after a
 * failure anywhere finishes the work, and a repeated delivery of a finished event does nothing.
 */
export interface ObjectPipeline<C extends AwsContext> {
  directory: ArchiveDirectory;
  /** Records the file (row, channel or allsky item, thumbnail) and returns the notice that announces it. */
  store(ctx: C, file: KnownObjectKey, arrivedAt: Date): Promise<ImageNotice>;
  /** The notice of a file stored only, when the directory's notice says more than directory, site and base filename. */
  announce?(ctx: C, file: ArchiveObjectKey): Promise<ImageNotice>;
}

export type IngestOutcome =
  | { status: "ingested"; notice: ImageNotice | undefined }
  /** This event was already fully processed. */
  | { status: "duplicate" }
  /** A newer event of the same object exists and does the work. */
  | { status: "stale" };

const LOG_KEYS = ["key", "site", "base_filename"];

/** Throws InvalidInputError / NotFoundError for what can never succeed (acknowledge), anything else to retry. */
export async function ingestObject<C extends AwsContext>(
  ctx: C,
  pipeline: ObjectPipeline<C>,
  ref: ObjectRef,
): Promise<IngestOutcome> {
  const { log } = ctx;
  log.appendKeys({ key: ref.key });
  try {
    const file = await parseLoggingInvalid(ctx, ref);
    log.appendKeys({ site: file.site, base_filename: file.baseFilename });
    if (ref.bucket !== ctx.config.BUCKET_NAME) {
      throw new InvalidInputError(`object ${ref.key} is in bucket ${ref.bucket}, not this archive's ${ctx.config.BUCKET_NAME}`, "bucket");
    }
    if (file.directory !== pipeline.directory) {
      throw new InvalidInputError(`object ${ref.key} reached the ${pipeline.directory}/ pipeline`, "directory");
    }
    // Every arrival is logged; a repeated delivery rewrites the same entry.
    await logUpload(ctx, { key: ref.key, size: ref.size, uploadedAt: ref.eventTime, sequencer: ref.sequencer });
    const verdict = await recordDelivery(ctx, ref, ctx.clock());
    if (verdict !== "process") {
      log.info("delivery needs no work", { verdict, sequencer: ref.sequencer });
      return { status: verdict === "done" ? "duplicate" : "stale" };
    }
    await headObject(ctx, ref.key);
    const expiresAt = expiryOf(ctx.config, file, ref.eventTime);
    if (expiresAt) await trackExpiration(ctx, file, expiresAt);

    const notice = isKnownFile(file) ? await pipeline.store(ctx, file, ref.eventTime) : await storedOnly(ctx, pipeline, file);
    // Of concurrent deliveries one sends the notice; the others' work is done and their notice is the sender's.
    const sent = await sendNoticeOnce(ctx, ref, notice, ctx.clock());
    log.info("ingested", { notice_sent: sent });
    return { status: "ingested", notice: sent ? notice : undefined };
  } finally {
    log.removeKeys(LOG_KEYS);
  }
}

/** A file no pipeline reads: its arrival is logged and announced, and no row, channel or allsky item changes. */
async function storedOnly<C extends AwsContext>(ctx: C, pipeline: ObjectPipeline<C>, file: ArchiveObjectKey): Promise<ImageNotice> {
  ctx.log.info("stored only: the archive reads no files of this extension", { file_name: file.fileName });
  return pipeline.announce ? pipeline.announce(ctx, file) : imageNotice(file.directory, file.site, file.baseFilename);
}

/** An invalid key is still logged (under the site its name suggests) before it is rejected. */
async function parseLoggingInvalid(ctx: AwsContext, ref: ObjectRef): Promise<ArchiveObjectKey> {
  try {
    return parseObjectKey(ref.key);
  } catch (error) {
    if (!(error instanceof InvalidInputError)) throw error;
    await logUpload(ctx, { key: ref.key, size: ref.size, uploadedAt: ref.eventTime, sequencer: ref.sequencer });
    throw error;
  }
}
