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

    // Assess: the item has the running system's attributes
    expect(failures).toEqual([]);
    const item = await infoImage(services.ctx, "tst", 2, new Date());
    expect(item).toMatchObject({
      pk: "tst#2",
      base_filename: base,
      data_type: "EX",
      file_date: "20220629",
      jpg_medium_exists: true,
      jpg_10_file_path: medium.key,
      jpg_small_exists: true,
      jpg_11_file_path: thumbnailKey,
      other_txt_00_exists: true,
      txt_00_file_path: txt.key,
    });
    expect(item?.header).toEqual({ SIMPLE: "T", OBJECT: "M31 mosaic", END: "" });
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
    const newJpg = await putObject(services.ctx, `info-images/${newer}-EX10.jpg`, await jpg(60, 40));
    const lateOld = await putObject(services.ctx, `info-images/${older}-EX10.fits`, "late fits bytes");

    // Act
    const failures = await ingest([newJpg, lateOld]);

    // Assess
    expect(failures).toEqual([]);
    const item = await infoImage(services.ctx, "tst", 1, new Date());
    expect(item).toMatchObject({ base_filename: newer, jpg_medium_exists: true, jpg_10_file_path: newJpg.key });
    expect(item).not.toHaveProperty("fits_01_exists");
    expect(item).not.toHaveProperty("fits_01_file_path");
    expect(item).not.toHaveProperty("fits_10_exists");
  });

  test("a fits is recorded under its own reduction, as the running system records it (00 is fits_00)", async () => {
    // Prepare
    const base = "tst-kb001ms-20220629-00040004";
    await assignChannel(services.ctx, "tst", 3, base);
    const large = await putObject(services.ctx, `info-images/${base}-EX00.fits.bz2`, "compressed bytes");
    const small = await putObject(services.ctx, `info-images/${base}-EX10.fits.fz`, "tile-compressed bytes");

    // Act
    await ingest([large, small]);

    // Assess
    const item = await infoImage(services.ctx, "tst", 3, new Date());
    expect(item).toMatchObject({
      fits_00_exists: true,
      fits_00_file_path: large.key,
      fits_10_exists: true,
      fits_10_file_path: small.key,
    });
    expect(item).not.toHaveProperty("fits_01_exists");
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
