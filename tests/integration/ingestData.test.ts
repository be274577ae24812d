import { GetCommand } from "@aws-sdk/lib-dynamodb";
import type { SQSBatchResponse } from "aws-lambda";
import sharp from "sharp";
import { beforeAll, describe, expect, test } from "vitest";
import { claimNotice, NOTICE_LEASE_MS } from "@archive/core/deliveries/notices";
import { recordDelivery } from "@archive/core/deliveries/objectDeliveries";
import { normalizeSequencer, type ObjectRef } from "@archive/core/deliveries/s3Events";
import { recentUploads } from "@archive/core/deliveries/uploadLog";
import { findImage } from "@archive/core/exposures/imageQueries";
import { getObjectBytes, listKeys } from "@archive/core/platform/s3";
import { createHandler } from "@archive/functions/ingestData";
import { useTestDatabase } from "../support/database";
import { buildFits, buildFitsHeader, bzip2, imageCards, type CardSpec } from "../support/fits";
import {
  lambdaContext,
  missingObject,
  putObject,
  s3Notification,
  sqsBatch,
  sqsBatchOf,
  type StoredObject,
} from "../support/objectEvents";
import { useServices } from "../support/services";
import testEvent from "../fixtures/events/s3-test-event.json";

const database = useTestDatabase();
const services = useServices({ database });

let handler: ReturnType<typeof createHandler>;
beforeAll(() => {
  handler = createHandler(services.ctx);
});

const headerCards = (base: string): CardSpec[] => [
  ["SIMPLE", true],
  ["BITPIX", 16],
  ["NAXIS", 0],
  ["DATE-OBS", "2022-06-29T04:12:40.000"],
  ["FILTER", "PL"],
  ["EXPTIME", 30],
  ["ORIGNAME", base],
];

async function jpg(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: "#3060a0" } }).jpeg().toBuffer();
}

/** The four files a site sends for one exposure. */
async function uploadExposure(base: string): Promise<StoredObject[]> {
  const ctx = services.ctx;
  return Promise.all([
    putObject(ctx, `data/${base}-EX00.txt`, buildFitsHeader(headerCards(base)).match(/.{80}/g)?.join("\n") ?? ""),
    putObject(ctx, `data/${base}-EX01.fits.bz2`, Buffer.from(bzip2(buildFits({ header: imageCards(64, headerCards(base).slice(3)) })))),
    putObject(ctx, `data/${base}-EX10.fits`, Buffer.from(buildFits({ header: imageCards(16, headerCards(base).slice(3)) }))),
    putObject(ctx, `data/${base}-EX10.jpg`, await jpg(300, 200)),
  ]);
}

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]));
}

async function ingest(objects: StoredObject[]): Promise<SQSBatchResponse> {
  const response = await handler(sqsBatchOf(objects), lambdaContext());
  if (!response) throw new Error("an SQS batch gets a batch response");
  return response;
}

function noticesFor(base: string): unknown[] {
  return services.sqs
    .messages(services.queueUrl)
    .map((message): unknown => JSON.parse(message.body))
    .filter((notice) => JSON.stringify(notice).includes(`"base_filename":"${base}"`));
}

function objectRef(object: StoredObject): ObjectRef {
  return { ...object, eventTime: new Date(object.eventTime) };
}

/** A delivery that recorded the event and claimed its notice at `at`, then died before sending it. */
async function deliveryDiedAfterClaim(object: StoredObject, at: Date): Promise<void> {
  expect(await recordDelivery(services.ctx, objectRef(object), at)).toBe("process");
  expect(await claimNotice(services.ctx, objectRef(object), at)).toBeDefined();
}

async function deliveryItem(key: string): Promise<Record<string, unknown> | undefined> {
  const { dynamo, tables } = services.ctx;
  const result = await dynamo.send(new GetCommand({ TableName: tables.objectDeliveries, Key: { object_key: key } }));
  return result.Item;
}

async function thumbnailEvent(base: string): Promise<StoredObject> {
  const key = `data/${base}-EX11.jpg`;
  const bytes = await getObjectBytes(services.ctx, key);
  return { ...missingObject(services.bucket, key), size: bytes.length };
}

describe("data/ ingestion", () => {
  test("a full exposure arriving in every order gives one complete row", async () => {
    // Prepare: 24 exposures, one per order of txt, large fits, small fits and medium jpg
    const orders = permutations([0, 1, 2, 3]);
    const exposures = await Promise.all(
      orders.map(async (order, i) => {
        const base = `sro-kb001ms-20220629-${String(20000 + i).padStart(8, "0")}`;
        const files = await uploadExposure(base);
        return { base, files: order.map((index) => files[index]).filter((f): f is StoredObject => f !== undefined) };
      }),
    );

    // Act: each order is one batch, then the thumbnails' own events
    for (const exposure of exposures) expect((await ingest(exposure.files)).batchItemFailures).toEqual([]);
    const thumbnails = await Promise.all(exposures.map((exposure) => thumbnailEvent(exposure.base)));
    expect((await ingest(thumbnails)).batchItemFailures).toEqual([]);

    // Assess
    for (const { base } of exposures) {
      const row = await findImage(database.db, base);
      expect(row).toMatchObject({
        base_filename: base,
        site: "sro",
        data_type: "EX",
        filter_used: "PL",
        fits_01_exists: true,
        fits_10_exists: true,
        jpg_medium_exists: true,
        jpg_small_exists: true,
      });
      expect(row?.header).toContain(`"ORIGNAME": "${base}"`);
      const rows = await database.db.selectFrom("images").select("image_id").where("base_filename", "=", base).execute();
      expect(rows).toHaveLength(1);
    }
  });

  test("the fits header is read from the object itself when no txt came", async () => {
    // Prepare
    const base = "sro-kb001ms-20220629-00030001";
    const fits = await putObject(
      services.ctx,
      `data/${base}-EX01.fits.bz2`,
      Buffer.from(bzip2(buildFits({ header: imageCards(4096, headerCards(base).slice(3)) }))),
    );

    // Act
    const response = await ingest([fits]);

    // Assess
    expect(response.batchItemFailures).toEqual([]);
    const row = await findImage(database.db, base);
    expect(row).toMatchObject({ fits_01_exists: true, filter_used: "PL", exposure_time: 30 });
    expect(row?.header).toContain(`"ORIGNAME": "${base}"`);
  });

  test("a medium jpg gets a 128 px high thumbnail with its aspect kept, whose own event marks jpg_small_exists", async () => {
    // Prepare
    const base = "sro-kb001ms-20220629-00030002";
    const medium = await putObject(services.ctx, `data/${base}-EX10.jpg`, await jpg(300, 200));

    // Act
    await ingest([medium]);
    const thumbnail = await thumbnailEvent(base);
    await ingest([thumbnail]);

    // Assess
    const bytes = await getObjectBytes(services.ctx, `data/${base}-EX11.jpg`);
    const metadata = await sharp(bytes).metadata();
    expect({ format: metadata.format, width: metadata.width, height: metadata.height }).toEqual({
      format: "jpeg",
      width: 192,
      height: 128,
    });
    expect(await listKeys(services.ctx, `data/${base}-`)).toEqual([`data/${base}-EX10.jpg`, `data/${base}-EX11.jpg`]);
    expect(await findImage(database.db, base)).toMatchObject({ jpg_medium_exists: true, jpg_small_exists: true });
  });

  test("a corrupt jpg still marks its row and gets no thumbnail", async () => {
    // Prepare
    const base = "sro-kb001ms-20220629-00030003";
    const corrupt = await putObject(services.ctx, `data/${base}-EX10.jpg`, "this is not a jpeg");

    // Act
    const response = await ingest([corrupt]);

    // Assess
    expect(response.batchItemFailures).toEqual([]);
    expect(await findImage(database.db, base)).toMatchObject({ jpg_medium_exists: true, jpg_small_exists: false });
    expect(await listKeys(services.ctx, `data/${base}-`)).toEqual([`data/${base}-EX10.jpg`]);
  });

  test("a header text with a NUL byte in a card is stored without that card, at once: no retry, no dead letter", async () => {
    // Prepare
    const base = "sro-kb001ms-20220629-00030031";
    const cards: CardSpec[] = [...headerCards(base), ["OBJECT", "M31\u0000"]];
    const txt = await putObject(services.ctx, `data/${base}-EX00.txt`, buildFitsHeader(cards));

    // Act
    const response = await ingest([txt]);

    // Assess
    expect(response.batchItemFailures).toEqual([]);
    expect(await findImage(database.db, base)).toMatchObject({ filter_used: "PL", exposure_time: 30 });
    expect(noticesFor(base)).toHaveLength(1);
  });

  test("the notice on the datastreamer's queue has the replaced system's exact shape", async () => {
    // Prepare
    const base = "sro-kb001ms-20220629-00030004";
    const txt = await putObject(services.ctx, `data/${base}-EX00.txt`, buildFitsHeader(headerCards(base)));

    // Act
    await ingest([txt]);

    // Assess
    expect(noticesFor(base)).toEqual([
      { topic: "imagedata", site: "sro", data: { s3_directory: "data", base_filename: base, site: "sro" } },
    ]);
  });

  test("a repeated delivery changes nothing and sends no second notice", async () => {
    // Prepare
    const base = "sro-kb001ms-20220629-00030005";
    const medium = await putObject(services.ctx, `data/${base}-EX10.jpg`, await jpg(90, 60));
    await ingest([medium]);
    const before = await findImage(database.db, base);

    // Act
    await ingest([medium]);
    await handler(s3Notification([medium]), lambdaContext());

    // Assess
    expect(await findImage(database.db, base)).toEqual(before);
    expect(noticesFor(base)).toHaveLength(1);
    expect(await deliveryItem(medium.key)).toMatchObject({ deliveries: 3, size: medium.size, etag: medium.eTag });
  });

  test("concurrent deliveries of one event send one notice; the others are retried and then find it sent", async () => {
    // Prepare
    const base = "sro-kb001ms-20220629-00030006";
    const fits = await putObject(services.ctx, `data/${base}-EX10.fits`, Buffer.from(buildFits({ header: imageCards(16) })));

    // Act
    const responses = await Promise.all([ingest([fits]), ingest([fits]), ingest([fits])]);
    const retried = responses.filter((response) => response.batchItemFailures.length > 0);
    const retries = await Promise.all(retried.map(() => ingest([fits])));

    // Assess
    expect(retried.length).toBeLessThan(responses.length);
    expect(retries.flatMap((response) => response.batchItemFailures)).toEqual([]);
    expect(noticesFor(base)).toHaveLength(1);
    expect(await findImage(database.db, base)).toMatchObject({ fits_10_exists: true });
  });

  test("a notice claimed by a delivery that died before sending it is sent by a retry after the lease, once", async () => {
    // Prepare
    const base = "sro-kb001ms-20220629-00030015";
    const fits = await putObject(services.ctx, `data/${base}-EX10.fits`, Buffer.from(buildFits({ header: imageCards(16) })));
    await deliveryDiedAfterClaim(fits, new Date(Date.now() - NOTICE_LEASE_MS - 1_000));

    // Act: concurrent retries after the lease (one claims; the others are retried again), then one more delivery
    const retries = await Promise.all([ingest([fits]), ingest([fits]), ingest([fits])]);
    const retriedAgain = await Promise.all(retries.filter((response) => response.batchItemFailures.length > 0).map(() => ingest([fits])));
    const repeated = await ingest([fits]);

    // Assess
    expect([...retriedAgain, repeated].flatMap((response) => response.batchItemFailures)).toEqual([]);
    expect(noticesFor(base)).toEqual([
      { topic: "imagedata", site: "sro", data: { s3_directory: "data", base_filename: base, site: "sro" } },
    ]);
    expect(await findImage(database.db, base)).toMatchObject({ fits_10_exists: true });
    expect(await deliveryItem(fits.key)).toMatchObject({
      deliveries: 5 + retriedAgain.length,
      size: fits.size,
      etag: fits.eTag,
      notified_sequencer: normalizeSequencer(fits.sequencer),
    });
  });

  test("a retry within the notice lease does the work and is retried again, until the lease lapses and it sends the notice once", async () => {
    // Prepare: a delivery claimed the notice and died, its lease ending 1.5 s from now
    const base = "sro-kb001ms-20220629-00030016";
    const fits = await putObject(services.ctx, `data/${base}-EX10.fits`, Buffer.from(buildFits({ header: imageCards(16) })));
    await deliveryDiedAfterClaim(fits, new Date(Date.now() - NOTICE_LEASE_MS + 1_500));

    // Act
    const withinLease = await ingest([fits]);
    const rowWithinLease = await findImage(database.db, base);
    const noticesWithinLease = noticesFor(base).length;
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const afterLease = await ingest([fits]);

    // Assess
    expect(withinLease.batchItemFailures).toHaveLength(1);
    expect(rowWithinLease).toMatchObject({ fits_10_exists: true });
    expect(noticesWithinLease).toBe(0);
    expect(afterLease.batchItemFailures).toEqual([]);
    expect(noticesFor(base)).toHaveLength(1);
    expect(await deliveryItem(fits.key)).toHaveProperty("notified_sequencer", normalizeSequencer(fits.sequencer));
  });

  test("a stale event of an object never redoes work a newer one did", async () => {
    // Prepare
    const base = "sro-kb001ms-20220629-00030007";
    const older = await putObject(services.ctx, `data/${base}-EX10.fits`, Buffer.from(buildFits({ header: imageCards(16) })));
    const newer = await putObject(services.ctx, older.key, Buffer.from(buildFits({ header: imageCards(32) })));
    await ingest([newer]);

    // Act
    const response = await ingest([older]);

    // Assess
    expect(response.batchItemFailures).toEqual([]);
    expect(noticesFor(base)).toHaveLength(1);
    expect(await deliveryItem(older.key)).toMatchObject({ deliveries: 2, stale_deliveries: 1, size: newer.size });
  });

  test("a poison record fails alone in its batch and its retry completes the work", async () => {
    // Prepare: a valid file, one whose notice the queue refuses, an invalid name, a vanished object
    const good = await putObject(services.ctx, "data/sro-kb001ms-20220629-00030008-EX10.fits", Buffer.from(buildFits({ header: imageCards(8) })));
    const poisonBase = "sro-kb001ms-20220629-00030009";
    const poison = await putObject(services.ctx, `data/${poisonBase}-EX10.fits`, Buffer.from(buildFits({ header: imageCards(8) })));
    const invalid = await putObject(services.ctx, "data/sro-kb001ms-2022-bad-name.fits", "x");
    const vanished = missingObject(services.bucket, "data/sro-kb001ms-20220629-00030010-EX10.jpg");
    const stopFault = services.sqs.failSendsWhen((body) => body.includes(poisonBase));
    const batch = sqsBatchOf([good, poison, invalid, vanished]);

    // Act
    const first = await handler(batch, lambdaContext());
    stopFault();
    const retried = batch.Records.filter((record) => first?.batchItemFailures.some((f) => f.itemIdentifier === record.messageId));
    const second = await handler({ Records: retried }, lambdaContext());

    // Assess
    expect(first?.batchItemFailures).toEqual([{ itemIdentifier: batch.Records[1]?.messageId }]);
    expect(second?.batchItemFailures).toEqual([]);
    expect(await findImage(database.db, "sro-kb001ms-20220629-00030008")).toMatchObject({ fits_10_exists: true });
    expect(await findImage(database.db, poisonBase)).toMatchObject({ fits_10_exists: true });
    expect(noticesFor(poisonBase)).toHaveLength(1);
    expect(await findImage(database.db, "sro-kb001ms-20220629-00030010")).toBeUndefined();
  });

  test("an invalid key is logged under the site its name suggests and acknowledged", async () => {
    // Prepare
    const invalid = await putObject(services.ctx, "data/lsc-camera1-notadate-EX10.jpg", "x");
    const unknown = await putObject(services.ctx, "data/Weird_Name.jpg", "y");

    // Act
    const response = await ingest([invalid, unknown]);

    // Assess
    expect(response.batchItemFailures).toEqual([]);
    const now = new Date();
    expect((await recentUploads(services.ctx, "lsc", now)).map((entry) => entry.filename)).toContain("data/lsc-camera1-notadate-EX10.jpg");
    expect((await recentUploads(services.ctx, "unknown", now)).map((entry) => entry.filename)).toContain("data/Weird_Name.jpg");
  });

  test("the upload log keeps two uploads of the same second, and a repeated delivery rewrites its own entry", async () => {
    // Prepare
    const second = new Date("2099-01-01T00:00:00.000Z");
    const base = "ogg-kb001ms-20220629-00030011";
    const first = await putObject(services.ctx, `data/${base}-EX10.fits`, Buffer.from(buildFits({ header: imageCards(8) })), { eventTime: second });
    const other = await putObject(services.ctx, `data/${base}-EX00.txt`, buildFitsHeader(headerCards(base)), { eventTime: second });
    const again = await putObject(services.ctx, first.key, Buffer.from(buildFits({ header: imageCards(8) })), { eventTime: second });

    // Act
    await ingest([first, other, again]);
    await ingest([first]);

    // Assess: three items of the running system's shape, each in the event's second, keyed apart below it
    const entries = await recentUploads(services.ctx, "ogg", new Date("2099-01-01T01:00:00Z"), 10);
    expect(entries.map((entry) => [entry.filename, Math.floor(entry.upload_timestamp_s)]).sort()).toEqual([
      [`data/${base}-EX00.txt`, 4070908800],
      [`data/${base}-EX10.fits`, 4070908800],
      [`data/${base}-EX10.fits`, 4070908800],
    ]);
    expect(new Set(entries.map((entry) => entry.upload_timestamp_s)).size).toBe(3);
    expect(entries[0]).toEqual({
      site: "ogg",
      upload_timestamp_s: expect.any(Number),
      filename: expect.stringMatching(/^data\//),
      size_bytes: expect.any(Number),
      expire_timestamp_s: 4070908800 + 48 * 3600,
    });
  });

  test("upload log entries past their expiry are not shown", async () => {
    // Prepare
    const old = await putObject(services.ctx, "data/cpt-kb001ms-20220629-00030012-EX10.fits", Buffer.from(buildFits({ header: imageCards(8) })), {
      eventTime: new Date(Date.now() - 49 * 3_600_000),
    });

    // Act
    await ingest([old]);

    // Assess
    expect(await recentUploads(services.ctx, "cpt", new Date())).toEqual([]);
  });

  test("an expiring data type gets one expiration entry; the test site's expires after 5 minutes", async () => {
    // Prepare
    const base = "tst-kb001ms-20220629-00030013";
    const arrived = new Date("2022-06-29T04:00:00Z");
    const fits = await putObject(services.ctx, `data/${base}-EP10.fits`, Buffer.from(buildFits({ header: imageCards(8) })), { eventTime: arrived });
    const later = await putObject(services.ctx, `data/${base}-EP10.jpg`, await jpg(30, 20), { eventTime: new Date(arrived.getTime() + 60_000) });

    // Act
    await ingest([fits, later]);

    // Assess
    const { dynamo, tables } = services.ctx;
    const entry = await dynamo.send(new GetCommand({ TableName: tables.expirations, Key: { pk: base } }));
    expect(entry.Item).toEqual({ pk: base, s3_directory: "data", expiration_timestamp_s: arrived.getTime() / 1000 + 300 });
  });

  test("a direct S3 event is ingested and an s3:TestEvent is ignored", async () => {
    // Prepare
    const base = "sro-kb001ms-20220629-00030014";
    const fits = await putObject(services.ctx, `data/${base}-EX10.fits`, Buffer.from(buildFits({ header: imageCards(8) })));

    // Act
    await handler(s3Notification([fits]), lambdaContext());
    const response = await handler(sqsBatch([{ body: testEvent }]), lambdaContext());

    // Assess
    expect(response?.batchItemFailures).toEqual([]);
    expect(await findImage(database.db, base)).toMatchObject({ fits_10_exists: true });
  });
});
