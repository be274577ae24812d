import { randomBytes, randomInt } from "node:crypto";
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import sharp from "sharp";
import { beforeAll, describe, expect, test } from "vitest";
import { allskyHistory } from "@archive/core/allsky/allskyImages";
import { recentUploads } from "@archive/core/deliveries/uploadLog";
import { findImage } from "@archive/core/exposures/imageQueries";
import { assignChannel, infoImage } from "@archive/core/infoImages/infoChannels";
import { getObjectBytes, listKeys } from "@archive/core/platform/s3";
import { createHandler as createAllskyHandler } from "@archive/functions/ingestAllsky";
import { createHandler as createDataHandler } from "@archive/functions/ingestData";
import { createHandler as createInfoHandler } from "@archive/functions/ingestInfoImages";
import { useTestDatabase } from "../support/database";
import { buildFits, buildFitsHeader, bzip2, imageCards, type CardSpec } from "../support/fits";
import { lambdaContext, putObject, sqsBatchOf, type StoredObject } from "../support/objectEvents";
import { useServices } from "../support/services";

// File names as the replaced service accepted them: any letter case, and any alphabetic extension. A file of an
// extension the archive does not read is logged and announced, and changes no row, channel or allsky item.

const database = useTestDatabase();
const services = useServices({ database });

type Handler = ReturnType<typeof createDataHandler>;
let handlers: { data: Handler; info: Handler; allsky: Handler };
beforeAll(() => {
  handlers = {
    data: createDataHandler(services.ctx),
    info: createInfoHandler(services.ctx),
    allsky: createAllskyHandler(services.ctx),
  };
});

/** A site no other test uses, in the given case. */
function uniqueSite(upper = false): string {
  const site = `n${randomBytes(3).toString("hex").slice(0, 5)}`;
  return upper ? site.toUpperCase() : site;
}

function uniqueBase(site: string, instrument = "kb001ms"): string {
  return `${site}-${instrument}-20220629-${String(randomInt(0, 99_999_999)).padStart(8, "0")}`;
}

async function ingest(handler: Handler, objects: StoredObject[]) {
  return (await handler(sqsBatchOf(objects), lambdaContext()))?.batchItemFailures;
}

function noticesFor(base: string): unknown[] {
  return services.sqs
    .messages(services.queueUrl)
    .map((message): unknown => JSON.parse(message.body))
    .filter((notice) => JSON.stringify(notice).includes(`"base_filename":"${base}"`));
}

/** The names of the site's logged uploads (the log's filename, with or without its directory). */
async function loggedNames(site: string): Promise<string[]> {
  const entries = await recentUploads(services.ctx, site, new Date());
  return entries.map((entry) => entry.filename.slice(entry.filename.lastIndexOf("/") + 1));
}

async function jpg(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: "#406080" } }).jpeg().toBuffer();
}

const headerCards: CardSpec[] = [
  ["DATE-OBS", "2022-06-29T04:12:40.000"],
  ["FILTER", "PL"],
  ["EXPTIME", 30],
];

describe("files of an extension the archive does not read", () => {
  test("a .png in data/ is logged and announced, and makes no row and no thumbnail", async () => {
    // Prepare
    const site = uniqueSite();
    const base = uniqueBase(site);
    const png = await putObject(services.ctx, `data/${base}-EX10.png`, "png bytes");

    // Act
    const failures = await ingest(handlers.data, [png]);

    // Assess
    expect(failures).toEqual([]);
    expect(await findImage(database.db, base)).toBeUndefined();
    expect(await loggedNames(site)).toEqual([`${base}-EX10.png`]);
    expect(noticesFor(base)).toEqual([{ topic: "imagedata", site, data: { s3_directory: "data", base_filename: base, site } }]);
    expect(await listKeys(services.ctx, `data/${base}-`)).toEqual([png.key]);
  });

  test("a .PNG of an expiring data type is tracked for expiry with its exposure, and still makes no row", async () => {
    // Prepare
    const site = uniqueSite();
    const base = uniqueBase(site);
    const arrived = new Date("2022-06-29T04:00:00Z");
    const png = await putObject(services.ctx, `data/${base}-EP10.PNG`, "png bytes", { eventTime: arrived });

    // Act
    const failures = await ingest(handlers.data, [png]);

    // Assess
    expect(failures).toEqual([]);
    expect(await findImage(database.db, base)).toBeUndefined();
    const { dynamo, tables } = services.ctx;
    const entry = await dynamo.send(new GetCommand({ TableName: tables.expirations, Key: { pk: base } }));
    expect(entry.Item).toEqual({ pk: base, s3_directory: "data", expiration_timestamp_s: arrived.getTime() / 1000 + 7 * 86_400 });
  });

  test("a .csv of an info image changes no channel; its notice names the channel the upload assigned", async () => {
    // Prepare
    const site = uniqueSite();
    const base = uniqueBase(site);
    await assignChannel(services.ctx, site, 3, base);
    const csv = await putObject(services.ctx, `info-images/${base}-EX10.csv`, "a,b\n1,2\n");

    // Act
    const failures = await ingest(handlers.info, [csv]);

    // Assess
    expect(failures).toEqual([]);
    expect(await infoImage(services.ctx, site, 3, new Date())).toBeUndefined();
    expect(await loggedNames(site)).toEqual([`${base}-EX10.csv`]);
    expect(noticesFor(base)).toEqual([
      { topic: "imagedata", site, data: { s3_directory: "info-images", base_filename: base, site, channel: 3 } },
    ]);
  });

  test("a .json beside an info image leaves the channel's files as they were", async () => {
    // Prepare
    const site = uniqueSite();
    const base = uniqueBase(site);
    await assignChannel(services.ctx, site, 1, base);
    const medium = await putObject(services.ctx, `info-images/${base}-EX10.jpg`, await jpg(60, 40));
    await ingest(handlers.info, [medium]);
    const before = await infoImage(services.ctx, site, 1, new Date());

    // Act
    const failures = await ingest(handlers.info, [await putObject(services.ctx, `info-images/${base}-EX10.json`, "{}")]);

    // Assess
    expect(failures).toEqual([]);
    expect(before).toMatchObject({ base_filename: base, jpg_medium_exists: true });
    expect(await infoImage(services.ctx, site, 1, new Date())).toEqual(before);
  });

  test("a .json in allsky/ makes no allsky item and is announced", async () => {
    // Prepare
    const site = uniqueSite();
    const base = uniqueBase(site, "allcam");
    const json = await putObject(services.ctx, `allsky/${base}-EX10.json`, "{}");

    // Act
    const failures = await ingest(handlers.allsky, [json]);

    // Assess
    expect(failures).toEqual([]);
    expect(await allskyHistory(services.ctx, site, new Date())).toEqual([]);
    expect(await loggedNames(site)).toEqual([`${base}-EX10.json`]);
    expect(noticesFor(base)).toEqual([{ topic: "imagedata", site, data: { s3_directory: "allsky", base_filename: base, site } }]);
  });
});

describe("upper-case names", () => {
  test("an exposure named in upper case is read by its lower-cased extensions and keeps its name and site as named", async () => {
    // Prepare
    const site = uniqueSite(true);
    const base = uniqueBase(site, "KB001MS");
    const files = [
      await putObject(services.ctx, `data/${base}-EX00.TXT`, buildFitsHeader(headerCards)),
      await putObject(services.ctx, `data/${base}-EX01.FITS.BZ2`, Buffer.from(bzip2(buildFits({ header: imageCards(64, headerCards) })))),
      await putObject(services.ctx, `data/${base}-EX10.JPG`, await jpg(300, 200)),
    ];

    // Act
    const failures = await ingest(handlers.data, files);
    const thumbnailKey = `data/${base}-EX11.jpg`;
    const thumbnail = await getObjectBytes(services.ctx, thumbnailKey);
    await ingest(handlers.data, [await putObject(services.ctx, thumbnailKey, thumbnail)]);

    // Assess
    expect(failures).toEqual([]);
    expect(await findImage(database.db, base)).toMatchObject({
      base_filename: base,
      site,
      data_type: "EX",
      filter_used: "PL",
      exposure_time: 30,
      fits_01_exists: true,
      jpg_medium_exists: true,
      jpg_small_exists: true,
    });
    expect((await sharp(thumbnail).metadata()).height).toBe(128);
    expect((await loggedNames(site)).sort()).toEqual([`${base}-EX00.TXT`, `${base}-EX01.FITS.BZ2`, `${base}-EX10.JPG`, `${base}-EX11.jpg`]);
    expect(noticesFor(base)).toContainEqual({ topic: "imagedata", site, data: { s3_directory: "data", base_filename: base, site } });
  });

  test("an upper-case site is a site of its own: its row is apart from the lower-case site's", async () => {
    // Prepare
    const site = uniqueSite();
    const counter = String(randomInt(0, 99_999_999)).padStart(8, "0");
    const lower = `${site}-kb001ms-20220629-${counter}`;
    const upper = `${site.toUpperCase()}-kb001ms-20220629-${counter}`;
    const objects = [
      await putObject(services.ctx, `data/${lower}-EX10.fits`, Buffer.from(buildFits({ header: imageCards(8, headerCards) }))),
      await putObject(services.ctx, `data/${upper}-EX10.Fits`, Buffer.from(buildFits({ header: imageCards(8, headerCards) }))),
    ];

    // Act
    const failures = await ingest(handlers.data, objects);

    // Assess
    expect(failures).toEqual([]);
    expect(await findImage(database.db, lower)).toMatchObject({ site, fits_10_exists: true });
    expect(await findImage(database.db, upper)).toMatchObject({ site: site.toUpperCase(), fits_10_exists: true });
  });
});
