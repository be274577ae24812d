import sharp from "sharp";
import { describe, expect, test } from "vitest";
import { allskyHistory, latestAllsky } from "@archive/core/allsky";
import { getObjectBytes } from "@archive/core/s3Objects";
import { handler } from "@archive/functions/ingestAllsky";
import { lambdaContext, putObject, sqsBatchOf, type StoredObject } from "../support/objectEvents";
import { useServices } from "../support/services";

const services = useServices({ env: { ALLSKY_RETENTION_DAYS: "3" } });

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
      await putObject(services.bucket, `allsky/${second}-EX10.jpg`, await jpg(200, 200)),
      await putObject(services.bucket, `allsky/${first}-EX10.jpg`, await jpg(200, 200)),
    ];

    // Act
    const failures = await ingest(objects);

    // Assess
    expect(failures).toEqual([]);
    expect(await latestAllsky("sqa")).toMatchObject({ base_filename: second, jpg_medium_key: `allsky/${second}-EX10.jpg` });
    expect((await allskyHistory("sqa", 10)).map((image) => image.base_filename)).toEqual([second, first]);
  });

  test("an allsky jpg gets a thumbnail and a notice for allsky/", async () => {
    // Prepare
    const base = "sqb-allcam-20220629-00000003";
    const medium = await putObject(services.bucket, `allsky/${base}-EX10.jpg`, await jpg(400, 300));

    // Act
    await ingest([medium]);

    // Assess
    const thumbnail = await sharp(await getObjectBytes(services.bucket, `allsky/${base}-EX11.jpg`)).metadata();
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
    await ingest([await putObject(services.bucket, `allsky/${base}-EX10.jpg`, await jpg(20, 20))]);

    // Act
    const later = new Date(Date.now() + 4 * 86_400_000);

    // Assess
    expect(await latestAllsky("sqc")).toMatchObject({ base_filename: base });
    expect(await latestAllsky("sqc", later)).toBeUndefined();
    expect(await allskyHistory("sqc", 10, later)).toEqual([]);
  });
});
