import { GetItemCommand, type AttributeValue } from "@aws-sdk/client-dynamodb";
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import type { DynamoDBRecord, DynamoDBStreamEvent } from "aws-lambda";
import sharp from "sharp";
import { beforeAll, describe, expect, test } from "vitest";
import { z } from "zod";
import { logUpload } from "@archive/core/deliveries/uploadLog";
import { sweepDueExpirations } from "@archive/core/expirations/expirations";
import { findImage } from "@archive/core/exposures/imageQueries";
import { recordFile } from "@archive/core/exposures/imageStore";
import { assignChannel, infoImage } from "@archive/core/infoImages/infoChannels";
import { parseObjectKey } from "@archive/core/names/fileName";
import { getObjectBytes, listKeys } from "@archive/core/platform/s3";
import { createHandler as createReadsHandler } from "@archive/functions/apiReads";
import { createHandler as createExpireData } from "@archive/functions/expireData";
import { createHandler as createIngestAllsky } from "@archive/functions/ingestAllsky";
import { createHandler as createIngestData } from "@archive/functions/ingestData";
import { createHandler as createIngestInfoImages } from "@archive/functions/ingestInfoImages";
import streamFixture from "../fixtures/events/dynamodb-stream-ttl-remove.json";
import { useTestDatabase } from "../support/database";
import { buildFitsHeader } from "../support/fits";
import { lambdaContext, putObject, sqsBatchOf, type StoredObject } from "../support/objectEvents";
import {
  oldApiInfoImagePackage,
  oldApiRecentUploads,
  oldIngesterChannelOf,
  oldIngesterLogsUpload,
  oldIngesterRecordsInfoImage,
  oldIngesterTracksExpiration,
  oldRemoverReads,
  oldRouteAssignsChannel,
} from "../support/replacedServiceItems";
import { useServices } from "../support/services";
import { getEvent, invoke, uniqueBase, uniqueSite } from "./apiHarness";

/*
 * Production keeps its DynamoDB tables through the cut-over (CONTRACTS.md, "DynamoDB tables of the running system"):
 * the old service and this archive write the same items and read each other's. The old service's writes and reads
 * are re-expressed in tests/support/replacedServiceItems.ts from its Python.
 */

const database = useTestDatabase();
const services = useServices({ database });

let handlers: {
  data: ReturnType<typeof createIngestData>;
  info: ReturnType<typeof createIngestInfoImages>;
  allsky: ReturnType<typeof createIngestAllsky>;
  expire: ReturnType<typeof createExpireData>;
  reads: ReturnType<typeof createReadsHandler>;
};
beforeAll(() => {
  handlers = {
    data: createIngestData(services.ctx),
    info: createIngestInfoImages(services.ctx),
    allsky: createIngestAllsky(services.ctx),
    expire: createExpireData(services.ctx),
    reads: createReadsHandler(services.ctx),
  };
});

const HOUR_S = 3600;
const DAY_S = 24 * HOUR_S;

async function jpg(width = 90, height = 60): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: "#305070" } }).jpeg().toBuffer();
}

async function ingest(handler: typeof handlers.data | typeof handlers.info | typeof handlers.allsky, objects: StoredObject[]) {
  return (await handler(sqsBatchOf(objects), lambdaContext()))?.batchItemFailures;
}

/** An exposure's objects and row, as ingestion leaves them. */
async function storeExposure(base: string, suffixes: string[]): Promise<string[]> {
  const keys = suffixes.map((suffix) => `data/${base}-${suffix}`);
  for (const key of keys) {
    await putObject(services.ctx, key, `bytes of ${key}`);
    await recordFile(database.db, parseObjectKey(key));
  }
  return keys;
}

/** The tracker item exactly as stored (attribute values), as a stream record's Keys and images carry it. */
async function storedEntry(base: string): Promise<Record<string, AttributeValue> | undefined> {
  const { dynamo, tables } = services.ctx;
  return (await dynamo.send(new GetItemCommand({ TableName: tables.expirations, Key: { pk: { S: base } } }))).Item;
}

/** DynamoDB's TTL removal of that item, as the table's NEW_AND_OLD_IMAGES stream delivers it. */
function ttlRemoval(item: Record<string, AttributeValue>): DynamoDBStreamEvent {
  const template = streamFixture.Records[0];
  if (!template) throw new Error("the stream fixture has no record");
  const record = { ...template, dynamodb: { ...template.dynamodb, Keys: { pk: item["pk"] }, OldImage: item } };
  return { Records: [record as DynamoDBRecord] };
}

const uploadEntriesSchema = z.array(z.object({ filename: z.string(), upload_timestamp_s: z.number() }).passthrough());

describe("items the running system wrote are ingested, expired and read by this archive", () => {
  test("an info image announced through the old route's {site}#metadata item lands in that channel", async () => {
    // Prepare
    const site = uniqueSite();
    const base = uniqueBase(site);
    await oldRouteAssignsChannel(services.ctx, `${base}-EX10.jpg`, 2);
    const medium = await putObject(services.ctx, `info-images/${base}-EX10.jpg`, await jpg());

    // Act
    const failures = await ingest(handlers.info, [medium]);
    const reply = await invoke(handlers.reads, getEvent(`/infoimage/${site}/2`));

    // Assess
    expect(failures).toEqual([]);
    expect(await infoImage(services.ctx, site, 2, new Date())).toMatchObject({ base_filename: base, jpg_10_file_path: medium.key });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ channel: 2, base_filename: base, jpg_url: expect.stringContaining(`/${medium.key}?`) });
  });

  test("a channel item the old ingester wrote is answered by GET /infoimage, and this archive's next image replaces it", async () => {
    // Prepare: the old service's image on channel 1, with its header
    const site = uniqueSite();
    const older = uniqueBase(site);
    const newer = uniqueBase(site);
    const now = new Date();
    await oldRouteAssignsChannel(services.ctx, `${older}-EX10.jpg`, 1);
    const oldJpg = await putObject(services.ctx, `info-images/${older}-EX10.jpg`, await jpg());
    const oldTxt = await putObject(services.ctx, `info-images/${older}-EX00.txt`, buildFitsHeader([["OBJECT", "M42"], ["EXPTIME", 30]]));
    for (const object of [oldJpg, oldTxt]) await oldIngesterRecordsInfoImage(services.ctx, object.key, now);

    // Act
    const before = await invoke(handlers.reads, getEvent(`/infoimage/${site}/1`));
    await oldRouteAssignsChannel(services.ctx, `${newer}-EX10.jpg`, 1);
    const newJpg = await putObject(services.ctx, `info-images/${newer}-EX10.jpg`, await jpg());
    const failures = await ingest(handlers.info, [newJpg]);

    // Assess
    expect(before.status).toBe(200);
    expect(before.body).toMatchObject({
      base_filename: older,
      jpg_medium_exists: true,
      jpg_small_exists: false,
      fits_01_exists: false,
      jpg_url: expect.stringContaining(`/${oldJpg.key}?`),
      header: { OBJECT: "M42", EXPTIME: "30", END: "" },
    });
    expect(before.body).not.toHaveProperty("jpg_small_url");
    expect(failures).toEqual([]);
    const replaced = await infoImage(services.ctx, site, 1, new Date());
    expect(replaced).toMatchObject({ base_filename: newer, jpg_10_file_path: newJpg.key });
    expect(replaced).not.toHaveProperty("txt_00_file_path");
    expect(replaced).not.toHaveProperty("header");
  });

  test("an expiration entry the old ingester wrote is expired by the sweep: its row, its objects and the entry", async () => {
    // Prepare: an EP exposure, tracked 8 days ago for 7 days
    const base = uniqueBase(uniqueSite());
    await storeExposure(base, ["EP00.txt", "EP10.fits", "EP10.jpg", "EP11.jpg"]);
    await oldIngesterTracksExpiration(services.ctx, base, 7 * DAY_S, new Date(Date.now() - 8 * DAY_S * 1000));

    // Act
    const result = await sweepDueExpirations(services.ctx, new Date());

    // Assess
    expect(result.failed).toBe(0);
    expect(await findImage(database.db, base)).toBeUndefined();
    expect(await listKeys(services.ctx, `data/${base}-`)).toEqual([]);
    expect(await storedEntry(base)).toBeUndefined();
  });

  test("the old ingester's entries are expired by the stream handler when DynamoDB's TTL removes them", async () => {
    // Prepare: a data exposure and an info image the old service wrote, each with its entry
    const site = uniqueSite();
    const exposure = uniqueBase(site);
    const info = uniqueBase(site);
    await storeExposure(exposure, ["EF10.fits", "EF10.jpg"]);
    await oldIngesterTracksExpiration(services.ctx, exposure, DAY_S, new Date());
    await oldRouteAssignsChannel(services.ctx, `${info}-EX10.jpg`, 3);
    const infoJpg = await putObject(services.ctx, `info-images/${info}-EX10.jpg`, await jpg());
    await oldIngesterRecordsInfoImage(services.ctx, infoJpg.key, new Date());
    await oldIngesterTracksExpiration(services.ctx, info, 48 * HOUR_S, new Date(), "info-images");
    const removals = [await storedEntry(exposure), await storedEntry(info)].map((item) => {
      if (!item) throw new Error("the old service's entry was not stored");
      return ttlRemoval(item);
    });

    // Act
    const responses = [];
    for (const removal of removals) responses.push(await handlers.expire(removal, lambdaContext()));

    // Assess
    expect(responses.map((response) => response.batchItemFailures)).toEqual([[], []]);
    expect(await findImage(database.db, exposure)).toBeUndefined();
    expect(await listKeys(services.ctx, `data/${exposure}-`)).toEqual([]);
    expect(await listKeys(services.ctx, `info-images/${info}-`)).toEqual([]);
    expect((await invoke(handlers.reads, getEvent(`/infoimage/${site}/3`))).status).toBe(204);
  });

  test("upload-log items the old ingester wrote are listed by GET /recentuploads with this archive's, newest first", async () => {
    // Prepare: whole seconds (the old service's) around one of ours with milliseconds
    const site = uniqueSite();
    const base = uniqueBase(site);
    const t0 = Math.floor(Date.now() / 1000) - 60;
    await oldIngesterLogsUpload(services.ctx, `data/${base}-EX00.txt`, t0, 2880);
    await logUpload(services.ctx, { key: `data/${base}-EX10.jpg`, size: 4000, uploadedAt: new Date(t0 * 1000 + 500), sequencer: "0062B0A1F2C3D4E5F6" });
    await oldIngesterLogsUpload(services.ctx, `data/${base}-EX10.fits.bz2`, t0 + 2, 9000);

    // Act
    const own = await invoke(handlers.reads, getEvent("/recentuploads", { site }));
    const all = await invoke(handlers.reads, getEvent("/recentuploads", { site: "all" }));

    // Assess
    expect(own.status).toBe(200);
    expect(uploadEntriesSchema.parse(own.body).map((entry) => entry.filename)).toEqual(
      ["EX10.fits.bz2", "EX10.jpg", "EX00.txt"].map((file) => `data/${base}-${file}`),
    );
    expect(uploadEntriesSchema.parse(own.body)[2]).toEqual({
      site,
      upload_timestamp_s: t0,
      filename: `data/${base}-EX00.txt`,
      size_bytes: 2880,
      expire_timestamp_s: t0 + 48 * HOUR_S,
    });
    expect(uploadEntriesSchema.parse(all.body).map((entry) => entry.filename)).toEqual(
      expect.arrayContaining([`data/${base}-EX00.txt`, `data/${base}-EX10.jpg`, `data/${base}-EX10.fits.bz2`]),
    );
  });
});

describe("items this archive writes are read by the running system's read API, ingester and remover", () => {
  test("an upload this archive logs answers the old read API's Key('site').eq(site) query and its scan", async () => {
    // Prepare
    const site = uniqueSite();
    const key = `data/${uniqueBase(site)}-EX10.jpg`;
    const arrived = new Date(Date.now() - 5000);
    const object = await putObject(services.ctx, key, await jpg(), { eventTime: arrived });

    // Act
    const failures = await ingest(handlers.data, [object]);
    const bySite = await oldApiRecentUploads(services.ctx, site);
    const scanned = await oldApiRecentUploads(services.ctx, "all");

    // Assess: exactly the running system's attributes
    expect(failures).toEqual([]);
    expect(bySite).toEqual([
      {
        site,
        upload_timestamp_s: expect.closeTo(arrived.getTime() / 1000, 2),
        filename: key,
        size_bytes: object.size,
        expire_timestamp_s: Math.floor(arrived.getTime() / 1000) + 48 * HOUR_S,
      },
    ]);
    expect(scanned.map((item) => item["filename"])).toContain(key);
  });

  test("this archive's channel item answers the old read API with every link, and its ingester finds our route's channel", async () => {
    // Prepare: our upload route's half, then an image's files and its thumbnail
    const site = uniqueSite();
    const base = uniqueBase(site);
    await assignChannel(services.ctx, site, 3, base);
    const files = [
      await putObject(services.ctx, `info-images/${base}-EX10.jpg`, await jpg(300, 200)),
      await putObject(services.ctx, `info-images/${base}-EX00.txt`, buildFitsHeader([["OBJECT", "NGC 7000"], ["FILTER", "Ha"]])),
      await putObject(services.ctx, `info-images/${base}-EX01.fits`, "large fits"),
      await putObject(services.ctx, `info-images/${base}-EX10.fits`, "small fits"),
    ];
    expect(await ingest(handlers.info, files)).toEqual([]);
    const thumbnailKey = `info-images/${base}-EX11.jpg`;
    expect(await ingest(handlers.info, [await putObject(services.ctx, thumbnailKey, await getObjectBytes(services.ctx, thumbnailKey))])).toEqual([]);

    // Act
    const { dynamo, tables } = services.ctx;
    const metadata = (await dynamo.send(new GetCommand({ TableName: tables.infoImages, Key: { pk: `${site}#metadata` } }))).Item;
    const oldPackage = await oldApiInfoImagePackage(services.ctx, site, "3");

    // Assess
    expect(metadata).toEqual({ pk: `${site}#metadata`, channel3: base });
    expect(oldIngesterChannelOf(base, metadata ?? {})).toBe(3);
    expect(oldPackage.status).toBe(200);
    expect(oldPackage.body).toMatchObject({
      base_filename: base,
      s3_directory: "info-images",
      data_type: "EX",
      file_date: base.split("-")[2],
      expiration_timestamp: expect.any(Number),
      jpg_url: `s3://info-images/${base}-EX10.jpg`,
      jpg_small_url: `s3://${thumbnailKey}`,
      fits_01_url: `s3://info-images/${base}-EX01.fits`,
      fits_10_url: `s3://info-images/${base}-EX10.fits`,
      header: { OBJECT: "NGC 7000", FILTER: "Ha", END: "" },
    });
    for (const url of ["jpg_url", "jpg_small_url", "fits_01_url", "fits_10_url"]) {
      const linked = z.string().parse(oldPackage.body?.[url]).slice("s3://".length);
      expect((await getObjectBytes(services.ctx, linked)).length, linked).toBeGreaterThan(0);
    }
  });

  test("this archive's expiration entries have the running system's shape, and its remover reads them", async () => {
    // Prepare
    const site = uniqueSite();
    const exposure = uniqueBase(site);
    const info = uniqueBase(site);
    const arrived = new Date(Date.now() - 1000);
    await assignChannel(services.ctx, site, 1, info);
    const objects = {
      data: await putObject(services.ctx, `data/${exposure}-EP10.jpg`, await jpg(), { eventTime: arrived }),
      info: await putObject(services.ctx, `info-images/${info}-EX10.jpg`, await jpg(), { eventTime: arrived }),
    };

    // Act
    expect(await ingest(handlers.data, [objects.data])).toEqual([]);
    expect(await ingest(handlers.info, [objects.info])).toEqual([]);
    const entries = [await storedEntry(exposure), await storedEntry(info)];

    // Assess
    const arrivedS = Math.floor(arrived.getTime() / 1000);
    expect(entries).toEqual([
      { pk: { S: exposure }, s3_directory: { S: "data" }, expiration_timestamp_s: { N: String(arrivedS + 7 * DAY_S) } },
      { pk: { S: info }, s3_directory: { S: "info-images" }, expiration_timestamp_s: { N: String(arrivedS + 48 * HOUR_S) } },
    ]);
    const removals = entries.map((item) => (item ? ttlRemoval(item).Records[0] : undefined));
    expect(removals.map((record) => (record ? oldRemoverReads(record) : undefined))).toEqual([
      { s3Directory: "data", baseFilename: exposure, prefix: `data/${exposure}`, removesRow: true },
      { s3Directory: "info-images", baseFilename: info, prefix: `info-images/${info}`, removesRow: false },
    ]);
  });

  test("an allsky entry is one the old remover raises on: its stream consumer must be detached before allsky entries reach the live table", async () => {
    // Prepare
    const base = uniqueBase(uniqueSite(), "20240313");
    const allsky = await putObject(services.ctx, `allsky/${base}-EX10.jpg`, await jpg());

    // Act
    expect(await ingest(handlers.allsky, [allsky])).toEqual([]);
    const entry = await storedEntry(base);

    // Assess
    expect(entry).toMatchObject({ pk: { S: base }, s3_directory: { S: "allsky" } });
    const record = entry ? ttlRemoval(entry).Records[0] : undefined;
    expect(() => (record ? oldRemoverReads(record) : undefined)).toThrow(/UnboundLocalError/);
  });
});
