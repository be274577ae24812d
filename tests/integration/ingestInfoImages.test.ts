import sharp from "sharp";
import { beforeAll, describe, expect, test } from "vitest";
import { assignChannel, infoImage } from "@archive/core/infoImages/infoChannels";
import { getObjectBytes } from "@archive/core/platform/s3";
import { createHandler } from "@archive/functions/ingestInfoImages";
import { buildFitsHeader, type CardSpec } from "../support/fits";
import { lambdaContext, putObject, sqsBatchOf, type StoredObject } from "../support/objectEvents";
import { useServices } from "../support/services";

const services = useServices();

let handler: ReturnType<typeof createHandler>;
beforeAll(() => {
  handler = createHandler(services.ctx);
});

const headerCards: CardSpec[] = [
  ["SIMPLE", true],
  ["OBJECT", "M31 mosaic"],
];

async function jpg(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: "#a03060" } }).jpeg().toBuffer();
}

async function ingest(objects: StoredObject[]) {
  const response = await handler(sqsBatchOf(objects), lambdaContext());
  return response?.batchItemFailures;
}

function noticesFor(base: string): unknown[] {
  return services.sqs
    .messages(services.queueUrl)
    .map((message): unknown => JSON.parse(message.body))
    .filter((notice) => JSON.stringify(notice).includes(`"base_filename":"${base}"`));
}

describe("info-images/ ingestion", () => {
  test("an info image fills the channel the upload API assigned, with its thumbnail, header and notice", async () => {
    // Prepare
    const base = "tst-kb001ms-20220629-00040001";
    await assignChannel(services.ctx, "tst", 2, base);
    const medium = await putObject(services.ctx, `info-images/${base}-EX10.jpg`, await jpg(300, 200));
    const txt = await putObject(services.ctx, `info-images/${base}-EX00.txt`, buildFitsHeader(headerCards));

    // Act
    const failures = await ingest([medium, txt]);
    const thumbnailKey = `info-images/${base}-EX11.jpg`;
    const thumbnail = await putObject(services.ctx, thumbnailKey, await getObjectBytes(services.ctx, thumbnailKey));
    await ingest([thumbnail]);

    // Assess
    expect(failures).toEqual([]);
    const item = await infoImage(services.ctx, "tst", 2, new Date());
    expect(item).toMatchObject({
      site: "tst",
      channel: 2,
      base_filename: base,
      jpg_medium_exists: true,
      jpg_medium_key: medium.key,
      jpg_small_exists: true,
      jpg_small_key: thumbnailKey,
    });
    expect(JSON.parse(item?.header ?? "{}")).toMatchObject({ OBJECT: "M31 mosaic" });
    expect((await sharp(await getObjectBytes(services.ctx, thumbnailKey)).metadata()).height).toBe(128);
    expect(noticesFor(base)).toContainEqual({
      topic: "imagedata",
      site: "tst",
      data: { s3_directory: "info-images", base_filename: base, site: "tst", channel: 2 },
    });
  });

  test("a newer image replaces the channel's older one, whose late files are then rejected", async () => {
    // Prepare
    const older = "tst-kb001ms-20220629-00040002";
    const newer = "tst-kb001ms-20220629-00040003";
    await assignChannel(services.ctx, "tst", 1, older);
    await ingest([await putObject(services.ctx, `info-images/${older}-EX01.fits`, "fits bytes")]);
    await assignChannel(services.ctx, "tst", 1, newer);
    const newJpg = await putObject(services.ctx, `info-images/${newer}-EX13.jpg`, await jpg(60, 40));
    const lateOld = await putObject(services.ctx, `info-images/${older}-EX10.fits`, "late fits bytes");

    // Act
    const failures = await ingest([newJpg, lateOld]);

    // Assess
    expect(failures).toEqual([]);
    const item = await infoImage(services.ctx, "tst", 1, new Date());
    expect(item).toMatchObject({ base_filename: newer, jpg_medium_exists: true, jpg_medium_key: newJpg.key });
    expect(item?.fits_01_exists).toBeUndefined();
    expect(item?.fits_10_exists).toBeUndefined();
  });

  test("large fits of reduction 00 and 01 share the fits_01 attributes", async () => {
    // Prepare
    const base = "tst-kb001ms-20220629-00040004";
    await assignChannel(services.ctx, "tst", 3, base);
    const fits = await putObject(services.ctx, `info-images/${base}-EX00.fits.bz2`, "compressed bytes");

    // Act
    await ingest([fits]);

    // Assess
    expect(await infoImage(services.ctx, "tst", 3, new Date())).toMatchObject({ fits_01_exists: true, fits_01_key: fits.key });
  });

  test("an info image is not shown past its expiry", async () => {
    // Prepare
    const base = "mrc-kb001ms-20220629-00040005";
    await assignChannel(services.ctx, "mrc", 1, base);
    await ingest([await putObject(services.ctx, `info-images/${base}-EX10.jpg`, await jpg(30, 20))]);

    // Act
    const now = await infoImage(services.ctx, "mrc", 1, new Date());
    const later = await infoImage(services.ctx, "mrc", 1, new Date(Date.now() + 49 * 3_600_000));

    // Assess
    expect(now?.base_filename).toBe(base);
    expect(later).toBeUndefined();
  });

  test("an info image assigned to no channel is acknowledged and stored nowhere", async () => {
    // Prepare
    const base = "mrc-kb001ms-20220629-00040006";
    const orphan = await putObject(services.ctx, `info-images/${base}-EX10.jpg`, await jpg(30, 20));

    // Act
    const failures = await ingest([orphan]);

    // Assess
    expect(failures).toEqual([]);
    expect(noticesFor(base)).toEqual([]);
  });
});
