import { isKnownFile, parseObjectKey, type ArchiveDirectory, type ArchiveObjectKey, type KnownObjectKey } from "../names/fileName";
import type { AwsContext } from "../platform/context";
import { InvalidInputError, TransientError } from "../platform/errors";
import { describeError } from "../platform/logger";
import { trackExpiration } from "../expirations/expirationTracker";
import { imageNotice, releaseNoticeClaim, sendClaimedNotice, type ImageNotice, type NoticeClaim } from "./notices";
import { recordDeliveryAndClaim } from "./objectDeliveries";
import { expiryOf } from "./retention";
import type { ObjectRef } from "./s3Events";
import { logUpload } from "./uploadLog";

/**
 * One S3 object → everything the archive keeps about it. The steps every prefix shares live here: the upload log, the
 * delivery record (sequencer order) with the claim on its notice, the expiration entry, and one notice to the
 * datastreamer; what a file means is its prefix's pipeline (exposures, info images, allsky). A file of an extension
 * the archive does not read (.png, .csv, .json…) is logged, tracked for expiry with its exposure and announced like
 * any other, and nothing more. Every step is idempotent and an event counts as finished only once its notice is
 * recorded as sent, so a retry after a failure anywhere finishes the work, and a repeated delivery of a finished event
 * does nothing.
 *
 * The objects of one batch go through in three rounds: each is read (nothing written but the delivery's own items),
 * then all are recorded together (one database transaction for the exposures, or each on its own when that fails),
 * then each recorded one finishes (its thumbnail) and sends its notice. A failure fails only its own object.
 */
export interface ObjectPipeline<C extends AwsContext> {
  directory: ArchiveDirectory;
  /** Reads what the file brings (its header, its thumbnail) and says how to record it; it writes nothing. */
  prepare(ctx: C, file: KnownObjectKey, arrivedAt: Date): Promise<PreparedFile<C>>;
  /** The notice of a file stored only, when the directory's notice says more than directory, site and base filename. */
  announce?(ctx: C, file: ArchiveObjectKey): Promise<ImageNotice>;
  /**
   * Runs the records of several objects as one unit, on the context it gives them (the exposures' one transaction:
   * one commit for a batch). Without it each object is recorded on its own.
   */
  recordTogether?<T>(ctx: C, records: (ctx: C) => Promise<T>): Promise<T>;
  /** When the file's exposure is to be deleted (undefined: kept), when its lifetimes are its own; else the stage's. */
  expiryOf?(ctx: C, file: ArchiveObjectKey, arrivedAt: Date): Promise<Date | undefined>;
}

/** A file read and ready to record. */
export interface PreparedFile<C extends AwsContext> {
  /** Records the file (row, channel or allsky item) on the context given, and returns the notice that announces it. */
  record(ctx: C): Promise<ImageNotice>;
  /** What follows once the record is committed: the thumbnail written next to a jpg. */
  afterRecord?(ctx: C): Promise<void>;
}

export type IngestOutcome =
  | { status: "ingested"; notice: ImageNotice | undefined }
  /** This event was already fully processed. */
  | { status: "duplicate" }
  /** A newer event of the same object exists and does the work. */
  | { status: "stale" };

/** What became of one object of a batch: an outcome, or the error that failed it (retryable or not, see isRetryable). */
export type IngestResult = { outcome: IngestOutcome } | { error: unknown };

/** An object read and ready, with the claim on its notice when this delivery holds it. */
interface Delivery<C extends AwsContext> {
  ref: ObjectRef;
  file: ArchiveObjectKey;
  claim: NoticeClaim | undefined;
  prepared: PreparedFile<C>;
}

const LOG_KEYS = ["key", "site", "base_filename"];

/**
 * Ingests one object; throws InvalidInputError / NotFoundError for what can never succeed (acknowledge), anything
 * else to retry.
 */
export async function ingestObject<C extends AwsContext>(ctx: C, pipeline: ObjectPipeline<C>, ref: ObjectRef): Promise<IngestOutcome> {
  const [result] = await ingestObjects(ctx, pipeline, [ref]);
  if (!result) throw new Error(`no result for ${ref.key}`);
  if ("error" in result) throw result.error;
  return result.outcome;
}

/** Ingests the objects of one batch, in order; one result per object, in the same order. */
export async function ingestObjects<C extends AwsContext>(
  ctx: C,
  pipeline: ObjectPipeline<C>,
  refs: readonly ObjectRef[],
): Promise<IngestResult[]> {
  const results = new Map<number, IngestResult>();
  const deliveries = new Map<number, Delivery<C>>();
  for (const [index, ref] of refs.entries()) {
    try {
      const started = await withObjectKeys(ctx, ref, undefined, () => startDelivery(ctx, pipeline, ref));
      if ("status" in started) results.set(index, { outcome: started });
      else deliveries.set(index, started);
    } catch (error) {
      results.set(index, { error });
    }
  }
  const recorded = await recordAll(ctx, pipeline, [...deliveries.values()]);
  for (const [index, delivery] of deliveries) {
    const record = recorded.get(delivery) ?? { error: new Error(`${delivery.ref.key} was not recorded`) };
    const result = await withObjectKeys(ctx, delivery.ref, delivery.file, () =>
      "notice" in record ? finishDelivery(ctx, delivery, record.notice) : failDelivery(ctx, delivery, record.error),
    );
    results.set(index, result);
  }
  return refs.map((ref, index) => results.get(index) ?? { error: new Error(`${ref.key} was not ingested`) });
}

/** Up to the records: the upload log, the delivery with its notice claim, the expiration entry, the file's reads. */
async function startDelivery<C extends AwsContext>(
  ctx: C,
  pipeline: ObjectPipeline<C>,
  ref: ObjectRef,
): Promise<Delivery<C> | Exclude<IngestOutcome, { status: "ingested" }>> {
  const { log } = ctx;
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
  const start = await recordDeliveryAndClaim(ctx, ref, ctx.clock());
  if (start.verdict !== "process") {
    log.info("delivery needs no work", { verdict: start.verdict, sequencer: ref.sequencer });
    return { status: start.verdict === "done" ? "duplicate" : "stale" };
  }
  try {
    const expiresAt = pipeline.expiryOf ? await pipeline.expiryOf(ctx, file, ref.eventTime) : expiryOf(ctx.config, file, ref.eventTime);
    if (expiresAt) await trackExpiration(ctx, file, expiresAt);
    // The event carries the object's size and ETag, so nothing asks S3 for its head; a file that is read and is gone
    // fails here, before anything records it.
    const prepared = isKnownFile(file) ? await pipeline.prepare(ctx, file, ref.eventTime) : storedOnly(ctx, pipeline, file);
    return { ref, file, claim: start.claim, prepared };
  } catch (error) {
    await giveBackClaim(ctx, ref, start.claim, error);
    throw error;
  }
}

type Recorded = { notice: ImageNotice } | { error: unknown };

function byRow(a: Delivery<AwsContext>, b: Delivery<AwsContext>): number {
  const rowA = a.file.baseFilename;
  const rowB = b.file.baseFilename;
  return rowA < rowB ? -1 : rowA > rowB ? 1 : 0;
}

/**
 * Records every delivery: all in one unit when the pipeline has one (one commit), else, or when that unit fails, each
 * on its own (in a unit of its own), so a failure fails only its own object.
 */
async function recordAll<C extends AwsContext>(
  ctx: C,
  pipeline: ObjectPipeline<C>,
  deliveries: readonly Delivery<C>[],
): Promise<Map<Delivery<C>, Recorded>> {
  if (pipeline.recordTogether && deliveries.length > 1) {
    try {
      return await pipeline.recordTogether(ctx, async (unit) => {
        const notices = new Map<Delivery<C>, Recorded>();
        // In one global order (the row each writes), so concurrent batches lock rows in the same order and never
        // deadlock: the files of one exposure arrive in different batches.
        for (const delivery of [...deliveries].sort(byRow)) {
          notices.set(delivery, { notice: await withObjectKeys(ctx, delivery.ref, delivery.file, () => delivery.prepared.record(unit)) });
        }
        return notices;
      });
    } catch (error) {
      ctx.log.warn("the batch's records failed together; each is recorded on its own", {
        objects: deliveries.length,
        error: describeError(error),
      });
    }
  }
  const recorded = new Map<Delivery<C>, Recorded>();
  for (const delivery of deliveries) {
    // Still one unit per object: a file's writes (its row and its status) commit together or not at all.
    const record = (unit: C) => delivery.prepared.record(unit);
    try {
      recorded.set(delivery, {
        notice: await withObjectKeys(ctx, delivery.ref, delivery.file, () =>
          pipeline.recordTogether ? pipeline.recordTogether(ctx, record) : record(ctx),
        ),
      });
    } catch (error) {
      recorded.set(delivery, { error });
    }
  }
  return recorded;
}

/** After the record: the file's own follow-up, then its notice, sent by whichever delivery holds the claim. */
async function finishDelivery<C extends AwsContext>(ctx: C, delivery: Delivery<C>, notice: ImageNotice): Promise<IngestResult> {
  try {
    await delivery.prepared.afterRecord?.(ctx);
  } catch (error) {
    return failDelivery(ctx, delivery, error);
  }
  try {
    // Of concurrent deliveries one holds the claim and sends the notice. Another's work is done, but it is not
    // finished: the claimant may have died (a crash, a kill) before sending. So it is retried, and its retry finds the
    // notice sent (a duplicate, finished) or the claim lapsed (it claims and sends): a notice is never lost.
    const { claim } = delivery;
    if (!claim) {
      return {
        error: new TransientError(
          `${delivery.ref.key} is recorded, and another delivery of the event holds its notice: retried until that one is sent or its claim lapses`,
        ),
      };
    }
    const sent = await sendClaimedNotice(ctx, delivery.ref, claim, notice, ctx.clock());
    ctx.log.info("ingested", { notice_sent: sent });
    return { outcome: { status: "ingested", notice: sent ? notice : undefined } };
  } catch (error) {
    // sendClaimedNotice gave the claim back when the notice could not be sent.
    return { error };
  }
}

async function failDelivery(ctx: AwsContext, delivery: Delivery<AwsContext>, error: unknown): Promise<IngestResult> {
  await giveBackClaim(ctx, delivery.ref, delivery.claim, error);
  return { error };
}

/** A delivery that failed gives its notice claim back, so its retry claims the notice at once. */
async function giveBackClaim(ctx: AwsContext, ref: ObjectRef, claim: NoticeClaim | undefined, cause: unknown): Promise<void> {
  if (!claim) return;
  try {
    await releaseNoticeClaim(ctx, ref, claim);
  } catch (error) {
    // The claim then lapses after its lease, and the retry claims it then.
    ctx.log.warn("a failed delivery's notice claim could not be given back", { error: describeError(error), cause: describeError(cause) });
  }
}

/** A file no pipeline reads: its arrival is logged and announced, and no row, channel or allsky item changes. */
function storedOnly<C extends AwsContext>(ctx: C, pipeline: ObjectPipeline<C>, file: ArchiveObjectKey): PreparedFile<C> {
  ctx.log.info("stored only: the archive reads no files of this extension", { file_name: file.fileName });
  return {
    record: (recordCtx) =>
      pipeline.announce ? pipeline.announce(recordCtx, file) : Promise.resolve(imageNotice(file.directory, file.site, file.baseFilename)),
  };
}

/** Every log line of an object's steps carries its key, and, once its name is parsed, its site and base filename. */
async function withObjectKeys<T>(ctx: AwsContext, ref: ObjectRef, file: ArchiveObjectKey | undefined, step: () => Promise<T>): Promise<T> {
  ctx.log.appendKeys({ key: ref.key, ...(file ? { site: file.site, base_filename: file.baseFilename } : {}) });
  try {
    return await step();
  } finally {
    ctx.log.removeKeys(LOG_KEYS);
  }
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
