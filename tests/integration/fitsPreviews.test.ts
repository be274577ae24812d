import { HeadObjectCommand } from "@aws-sdk/client-s3";
import type { SQSBatchResponse } from "aws-lambda";
import sharp from "sharp";
import { beforeAll, describe, expect, test } from "vitest";
import { findImage } from "@archive/core/exposures/imageQueries";
import type { FitsImage } from "@archive/core/fits/fitsImage";
import { writeTileCompressed } from "@archive/core/fits/tileCompressedWriter";
import { writeFitsImage } from "@archive/core/fits/fitsWriter";
import { bzip2 } from "@archive/core/platform/bzip2";
import type { ArchiveContext } from "@archive/core/platform/context";
import { getObjectBytes, listKeys } from "@archive/core/platform/s3";
import { generatedPreviewOf } from "@archive/core/previews/generatedPreviews";
import { exposureStatus } from "@archive/core/exposures/exposureStatus";
import { PREVIEW_LONG_SIDE } from "@archive/core/previews/fitsPreviews";
import { previewCheckSchema } from "@archive/core/previews/previewChecks";
import { createHandler as createIngestHandler } from "@archive/functions/ingestData";
import { createHandler as createPreviewsHandler } from "@archive/functions/makePreviews";
import { useTestDatabase } from "../support/database";
import { lambdaContext, putObject, sqsBatch, sqsBatchOf, type StoredObject } from "../support/objectEvents";
import { useServices } from "../support/services";

const database = useTestDatabase();
const services = useServices({ database });

const DELAY_SECONDS = 7;
let ctx: ArchiveContext;
let previewsQueue: string;
let ingest: ReturnType<typeof createIngestHandler>;
let previews: ReturnType<typeof createPreviewsHandler>;
beforeAll(() => {
  previewsQueue = services.sqs.queueUrl("previews-test");
  ctx = services.contextWith({ PREVIEWS_QUEUE_URL: previewsQueue, FITS_PREVIEW_DELAY_SECONDS: String(DELAY_SECONDS) });
  ingest = createIngestHandler(ctx);
  previews = createPreviewsHandler(ctx);
});

let counter = 0;
/** A base filename no other test uses. */
const newBase = () => `tst-fitsonly-20261130-${String(++counter).padStart(8, "0")}`;

const HEADER = ["DATE-OBS= '2026-11-30T03:00:00.000'", "FILTER  = 'L       '", "EXPTIME =                 30.0"];

/** A 16-bit sky frame of 300×200: ~1000 ADU, a brighter band, a few hot pixels. */
function frame(): FitsImage {
  const [width, height] = [300, 200];
  const pixels = new Int16Array(width * height);
  for (let i = 0; i < pixels.length; i++) {
    const y = Math.floor(i / width);
    const value = i % 997 === 0 ? 65535 : 1000 + ((i * 7919) % 41) + (y > 90 && y < 110 ? 200 : 0);
    pixels[i] = value - 32768;
  }
  return { bitpix: 16, axes: [width, height], pixels, bscale: 1, bzero: 32768, blank: null };
}

const smallFits = () => writeTileCompressed(HEADER, frame(), { compression: "GZIP_2" });
const largeFits = () => bzip2(writeFitsImage(HEADER, frame()));

async function ingestObjects(objects: StoredObject[]): Promise<void> {
  const response = await ingest(sqsBatchOf(objects), lambdaContext());
  expect(response?.batchItemFailures).toEqual([]);
}

/** What the data/ pipeline would be given for an object already in the bucket (one a function wrote). */
async function storedObject(key: string): Promise<StoredObject> {
  const head = await ctx.s3.send(new HeadObjectCommand({ Bucket: ctx.config.BUCKET_NAME, Key: key }));
  return {
    bucket: ctx.config.BUCKET_NAME,
    key,
    size: head.ContentLength ?? 0,
    eTag: (head.ETag ?? "").replace(/"/g, ""),
    sequencer: `${Date.now().toString(16)}${String(++counter).padStart(6, "0")}`.toUpperCase(),
    eventTime: new Date().toISOString(),
  };
}

/** The preview checks the ingestion scheduled for an exposure. */
function checksFor(base: string) {
  return services.sqs
    .messages(previewsQueue)
    .map((message) => ({ check: previewCheckSchema.parse(JSON.parse(message.body)), delaySeconds: message.delaySeconds }))
    .filter(({ check }) => check.base_filename === base);
}

/** The delayed check, delivered now (as SQS would after the delay). */
async function runCheck(base: string): Promise<SQSBatchResponse> {
  const [scheduled] = checksFor(base);
  if (!scheduled) throw new Error(`no preview check was scheduled for ${base}`);
  const response = await previews(sqsBatch([{ body: scheduled.check }]), lambdaContext("makePreviews"));
  if (!response) throw new Error("an SQS batch gets a batch response");
  return response;
}

describe("a preview made from a FITS-only exposure", () => {
  test("its FITS file schedules one check after the configured delay; the check writes a medium jpg marked generated", async () => {
    const base = newBase();
    const fitsKey = `data/${base}-EX10.fits.fz`;
    await ingestObjects([await putObject(ctx, fitsKey, smallFits())]);

    expect(checksFor(base)).toEqual([{ check: { base_filename: base, fits_key: fitsKey }, delaySeconds: DELAY_SECONDS }]);
    expect(await runCheck(base)).toEqual({ batchItemFailures: [] });

    const jpgKey = `data/${base}-EX10.jpg`;
    const head = await ctx.s3.send(new HeadObjectCommand({ Bucket: ctx.config.BUCKET_NAME, Key: jpgKey }));
    expect(head.Metadata).toEqual({ "generated-from": fitsKey });
    expect(head.ContentType).toBe("image/jpeg");
    const jpg = await sharp(await getObjectBytes(ctx, jpgKey)).metadata();
    // 300×200 is below the medium jpg's size: it is not enlarged.
    expect(jpg).toMatchObject({ format: "jpeg", width: 300, height: 200, channels: 1 });
    expect(await generatedPreviewOf(database.db, base)).toMatchObject({ source_key: fitsKey, jpg_key: jpgKey });
  });

  test("the data/ pipeline then ingests the generated jpg: its flag, its thumbnail, the thumbnail's flag and the notices", async () => {
    const base = newBase();
    await ingestObjects([await putObject(ctx, `data/${base}-EX10.fits.fz`, smallFits())]);
    await runCheck(base);

    await ingestObjects([await storedObject(`data/${base}-EX10.jpg`)]);
    const thumbnailKey = `data/${base}-EX11.jpg`;
    await ingestObjects([await storedObject(thumbnailKey)]);

    expect(await findImage(database.db, base)).toMatchObject({
      fits_10_exists: true,
      jpg_medium_exists: true,
      jpg_small_exists: true,
      jpg_medium_reduction: "10",
      filter_used: "L",
    });
    expect((await sharp(await getObjectBytes(ctx, thumbnailKey)).metadata()).height).toBe(ctx.config.THUMBNAIL_HEIGHT);
    const notices = services.sqs.messages(services.queueUrl).filter((message) => message.body.includes(base));
    expect(notices).toHaveLength(3);
    // The status says the medium jpg is the archive's own, made from the FITS file.
    expect((await exposureStatus(ctx, base)).generated_preview).toMatchObject({ source_key: `data/${base}-EX10.fits.fz` });
  });

  test("a large frame's preview has the medium jpg's long side", async () => {
    const base = newBase();
    const big: FitsImage = { ...frame(), axes: [3000, 2000], pixels: new Int16Array(3000 * 2000).fill(1000 - 32768) };
    await ingestObjects([await putObject(ctx, `data/${base}-EX10.fits.fz`, writeTileCompressed(HEADER, big, { compression: "GZIP_2", level: 1 }))]);

    await runCheck(base);

    const jpg = await sharp(await getObjectBytes(ctx, `data/${base}-EX10.jpg`)).metadata();
    expect(jpg).toMatchObject({ width: PREVIEW_LONG_SIDE, height: 1024 });
  });

  test("with only the large .fits.bz2, the preview is made from it", async () => {
    const base = newBase();
    const fitsKey = `data/${base}-EX01.fits.bz2`;
    await ingestObjects([await putObject(ctx, fitsKey, largeFits())]);

    await runCheck(base);

    expect(await generatedPreviewOf(database.db, base)).toMatchObject({ source_key: fitsKey, jpg_key: `data/${base}-EX10.jpg` });
  });

  test("with both FITS files, one check is scheduled and the small .fits.fz is read", async () => {
    const base = newBase();
    await ingestObjects([await putObject(ctx, `data/${base}-EX01.fits.bz2`, largeFits())]);
    await ingestObjects([await putObject(ctx, `data/${base}-EX10.fits.fz`, smallFits())]);

    expect(checksFor(base)).toHaveLength(1);
    await runCheck(base);

    expect(await generatedPreviewOf(database.db, base)).toMatchObject({ source_key: `data/${base}-EX10.fits.fz` });
  });

  test("a repeated check writes nothing more", async () => {
    const base = newBase();
    await ingestObjects([await putObject(ctx, `data/${base}-EX10.fits.fz`, smallFits())]);
    await runCheck(base);
    const first = await generatedPreviewOf(database.db, base);
    const jpg = await getObjectBytes(ctx, `data/${base}-EX10.jpg`);

    expect(await runCheck(base)).toEqual({ batchItemFailures: [] });

    expect(await generatedPreviewOf(database.db, base)).toEqual(first);
    expect(await getObjectBytes(ctx, `data/${base}-EX10.jpg`)).toEqual(jpg);
  });
});

describe("no preview when the site's jpg comes", () => {
  const sitesJpg = () => sharp({ create: { width: 60, height: 40, channels: 3, background: "#204080" } }).jpeg().toBuffer();

  test("a jpg ingested before the check: the check writes nothing", async () => {
    const base = newBase();
    await ingestObjects([await putObject(ctx, `data/${base}-EX10.fits.fz`, smallFits())]);
    const jpg = await sitesJpg();
    await ingestObjects([await putObject(ctx, `data/${base}-EX10.jpg`, jpg)]);

    expect(await runCheck(base)).toEqual({ batchItemFailures: [] });

    expect(await getObjectBytes(ctx, `data/${base}-EX10.jpg`)).toEqual(jpg);
    expect(await generatedPreviewOf(database.db, base)).toBeUndefined();
  });

  test("a jpg stored but not yet ingested (reduction 13): never overwritten, no preview", async () => {
    const base = newBase();
    await ingestObjects([await putObject(ctx, `data/${base}-EX10.fits.fz`, smallFits())]);
    await putObject(ctx, `data/${base}-EX13.jpg`, await sitesJpg());

    await runCheck(base);

    expect((await listKeys(ctx, `data/${base}-`)).sort()).toEqual([`data/${base}-EX10.fits.fz`, `data/${base}-EX13.jpg`]);
    expect(await generatedPreviewOf(database.db, base)).toBeUndefined();
  });

  test("a FITS file arriving after the jpg schedules no check", async () => {
    const base = newBase();
    await ingestObjects([await putObject(ctx, `data/${base}-EX10.jpg`, await sitesJpg())]);

    await ingestObjects([await putObject(ctx, `data/${base}-EX10.fits.fz`, smallFits())]);

    expect(checksFor(base)).toEqual([]);
  });

  test("without a previews queue (shadow mode) a FITS-only exposure schedules nothing", async () => {
    const base = newBase();
    const withoutPreviews = createIngestHandler(services.ctx);

    const response = await withoutPreviews(sqsBatchOf([await putObject(ctx, `data/${base}-EX10.fits.fz`, smallFits())]), lambdaContext());

    expect(response?.batchItemFailures).toEqual([]);
    expect(checksFor(base)).toEqual([]);
  });

  test("a message that is not a check is acknowledged, not retried", async () => {
    const response = await previews(sqsBatch([{ body: { base_filename: 42 } }]), lambdaContext("makePreviews"));

    expect(response).toEqual({ batchItemFailures: [] });
  });
});
