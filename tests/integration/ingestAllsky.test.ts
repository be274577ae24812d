import sharp from "sharp";
import { beforeAll, describe, expect, test } from "vitest";
import { allskyHistory, latestAllsky } from "@archive/core/allsky/allskyImages";
import { getObjectBytes } from "@archive/core/platform/s3";
import { createHandler } from "@archive/functions/ingestAllsky";
import { lambdaContext, putObject, sqsBatchOf, type StoredObject } from "../support/objectEvents";
import { useServices } from "../support/services";

const services = useServices({ settings: { ALLSKY_RETENTION_DAYS: "3" } });

let handler: ReturnType<typeof createHandler>;
beforeAll(() => {
  handler = createHandler(services.ctx);
});

async function jpg(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: "#102040" } }).jpeg().toBuffer();
}

async function ingest(objects: StoredObject[]) {
  return (await handler(sqsBatchOf(objects), lambdaContext()))?.batchItemFailures;
}

describe("allsky/ ingestion", () => {
  test("allsky images are kept apart: the latest of a site and its history, newest first", async () => {
    // Prepare
    const first = "sqa-allcam-20220628-00000001";
    const second = "sqa-allcam-20220629-00000002";
    const objects = [
      await putObject(services.ctx, `allsky/${second}-EX10.jpg`, await jpg(200, 200)),
      await putObject(services.ctx, `allsky/${first}-EX10.jpg`, await jpg(200, 200)),
    ];

    // Act
    const failures = await ingest(objects);

    // Assess
    expect(failures).toEqual([]);
    const now = new Date();
    expect(await latestAllsky(services.ctx, "sqa", now)).toMatchObject({ base_filename: second, jpg_medium_key: `allsky/${second}-EX10.jpg` });
    expect((await allskyHistory(services.ctx, "sqa", now, 10)).map((image) => image.base_filename)).toEqual([second, first]);
  });

  test("an allsky jpg gets a thumbnail and a notice for allsky/", async () => {
    // Prepare
    const base = "sqb-allcam-20220629-00000003";
    const medium = await putObject(services.ctx, `allsky/${base}-EX10.jpg`, await jpg(400, 300));

    // Act
    await ingest([medium]);

    // Assess
    const thumbnail = await sharp(await getObjectBytes(services.ctx, `allsky/${base}-EX11.jpg`)).metadata();
    expect([thumbnail.width, thumbnail.height]).toEqual([171, 128]);
    const notices = services.sqs.messages(services.queueUrl).map((message): unknown => JSON.parse(message.body));
    expect(notices).toContainEqual({
      topic: "imagedata",
      site: "sqb",
      data: { s3_directory: "allsky", base_filename: base, site: "sqb" },
    });
  });

  test("allsky images past the retention are no longer listed", async () => {
    // Prepare
    const base = "sqc-allcam-20220629-00000004";
    await ingest([await putObject(services.ctx, `allsky/${base}-EX10.jpg`, await jpg(20, 20))]);

    // Act
    const later = new Date(Date.now() + 4 * 86_400_000);

    // Assess
    expect(await latestAllsky(services.ctx, "sqc", new Date())).toMatchObject({ base_filename: base });
    expect(await latestAllsky(services.ctx, "sqc", later)).toBeUndefined();
    expect(await allskyHistory(services.ctx, "sqc", later, 10)).toEqual([]);
  });
});
