import { GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import type { DynamoDBStreamEvent } from "aws-lambda";
import { beforeAll, describe, expect, test } from "vitest";
import { expireEntry, sweepDueExpirations } from "@archive/core/expirations/expirations";
import { recordFile } from "@archive/core/exposures/imageStore";
import { findImage } from "@archive/core/exposures/imageQueries";
import { assignChannel, infoImage, recordInfoFile } from "@archive/core/infoImages/infoChannels";
import { parseObjectKey } from "@archive/core/names/fileName";
import { listKeys } from "@archive/core/platform/s3";
import { createHandler as createExpireData } from "@archive/functions/expireData";
import { createHandler as createSweepExpirations } from "@archive/functions/sweepExpirations";
import streamFixture from "../fixtures/events/dynamodb-stream-ttl-remove.json";
import { useTestDatabase } from "../support/database";
import { lambdaContext, putObject } from "../support/objectEvents";
import { useServices } from "../support/services";

const database = useTestDatabase();
const services = useServices({ database });

let expireData: ReturnType<typeof createExpireData>;
let sweepExpirations: ReturnType<typeof createSweepExpirations>;
beforeAll(() => {
  expireData = createExpireData(services.ctx);
  sweepExpirations = createSweepExpirations(services.ctx);
});

/** An exposure's objects and row, as ingestion leaves them. */
async function storeExposure(base: string, suffixes = ["EP00.txt", "EP10.fits", "EP10.jpg", "EP11.jpg"]): Promise<string[]> {
  const keys = suffixes.map((suffix) => `data/${base}-${suffix}`);
  for (const key of keys) {
    await putObject(services.ctx, key, `bytes of ${key}`);
    await recordFile(database.db, parseObjectKey(key));
  }
  return keys;
}

function removeRecord(directory: string, base: string, site: string): DynamoDBStreamEvent {
  const template = streamFixture.Records[0];
  if (!template) throw new Error("the stream fixture has no record");
  const image = {
    ...template.dynamodb.OldImage,
    expiration_key: { S: `${directory}/${base}` },
    s3_directory: { S: directory },
    base_filename: { S: base },
    site: { S: site },
  };
  return {
    Records: [{ ...template, eventName: "REMOVE", dynamodb: { ...template.dynamodb, Keys: { expiration_key: image.expiration_key }, OldImage: image, StreamViewType: "OLD_IMAGE" } }],
  };
}

describe("expirations", () => {
  test("expiring an exposure deletes exactly its objects and row, and keeps a neighbour whose name extends it", async () => {
    // Prepare
    const base = "tst-kb001ms-20220629-00050001";
    const neighbour = "tst-kb001msx-20220629-00050001";
    await storeExposure(base);
    const neighbourKeys = await storeExposure(neighbour, ["EP10.jpg"]);
    const stray = `data/${base}-EP10.jpg~`;
    await putObject(services.ctx, stray, "not one of the exposure's files");

    // Act
    const response = await expireData(removeRecord("data", base, "tst"), lambdaContext());

    // Assess
    expect(response.batchItemFailures).toEqual([]);
    expect(await findImage(database.db, base)).toBeUndefined();
    expect(await listKeys(services.ctx, `data/${base}-`)).toEqual([stray]);
    expect(await findImage(database.db, neighbour)).toMatchObject({ jpg_medium_exists: true });
    expect(await listKeys(services.ctx, `data/${neighbour}-`)).toEqual(neighbourKeys);
  });

  test("expiring the same exposure twice is harmless", async () => {
    // Prepare
    const base = "tst-kb001ms-20220629-00050002";
    await storeExposure(base);
    const entry = { expiration_key: `data/${base}`, s3_directory: "data", base_filename: base, site: "tst", expires_at: 0 } as const;
    await expireEntry(services.ctx, entry);

    // Act
    const second = await expireEntry(services.ctx, entry);

    // Assess
    expect(second).toEqual({ objectsDeleted: 0 });
    expect(await listKeys(services.ctx, `data/${base}-`)).toEqual([]);
  });

  test("the sweep expires due entries and deletes them, and leaves entries not yet due", async () => {
    // Prepare
    const due = "tst-kb001ms-20220629-00050003";
    const notDue = "tst-kb001ms-20220629-00050004";
    await storeExposure(due);
    const notDueKeys = await storeExposure(notDue);
    const now = Math.floor(Date.now() / 1000);
    const { dynamo, tables } = services.ctx;
    for (const [base, expiresAt] of [
      [due, now - 60],
      [notDue, now + 3600],
    ] as const) {
      await dynamo.send(
        new PutCommand({
          TableName: tables.expirations,
          Item: { expiration_key: `data/${base}`, s3_directory: "data", base_filename: base, site: "tst", expires_at: expiresAt, due_partition: "due" },
        }),
      );
    }

    // Act
    const result = await sweepExpirations({}, lambdaContext());

    // Assess
    expect(result).toMatchObject({ failed: 0 });
    expect(await findImage(database.db, due)).toBeUndefined();
    expect(await listKeys(services.ctx, `data/${due}-`)).toEqual([]);
    const entry = await dynamo.send(new GetCommand({ TableName: tables.expirations, Key: { expiration_key: `data/${due}` } }));
    expect(entry.Item).toBeUndefined();
    expect(await listKeys(services.ctx, `data/${notDue}-`)).toEqual(notDueKeys);
    expect(await sweepDueExpirations(services.ctx, new Date(now * 1000))).toMatchObject({ failed: 0 });
    expect(await findImage(database.db, notDue)).toMatchObject({ jpg_medium_exists: true });
  });

  test("an expired info image clears its channel only while the channel still shows it", async () => {
    // Prepare
    const expired = "tst-kb001ms-20220629-00050005";
    const other = "tst-kb001ms-20220629-00050006";
    const current = "tst-kb001ms-20220629-00050007";
    await assignChannel(services.ctx, "tst", 1, expired);
    const expiredKey = `info-images/${expired}-EX10.jpg`;
    await putObject(services.ctx, expiredKey, "jpg");
    await recordInfoFile(services.ctx, { file: parseObjectKey(expiredKey), now: new Date() });
    await assignChannel(services.ctx, "tst", 2, other);
    await recordInfoFile(services.ctx, { file: parseObjectKey(`info-images/${other}-EX10.jpg`), now: new Date() });
    await assignChannel(services.ctx, "tst", 2, current);
    await recordInfoFile(services.ctx, { file: parseObjectKey(`info-images/${current}-EX10.jpg`), now: new Date() });

    // Act
    await expireData(removeRecord("info-images", expired, "tst"), lambdaContext());
    await expireData(removeRecord("info-images", other, "tst"), lambdaContext());

    // Assess
    expect(await infoImage(services.ctx, "tst", 1, new Date())).toBeUndefined();
    expect(await listKeys(services.ctx, `info-images/${expired}-`)).toEqual([]);
    expect(await infoImage(services.ctx, "tst", 2, new Date())).toMatchObject({ base_filename: current });
  });

  test("a stream record that is not an expiration entry is acknowledged", async () => {
    // Prepare
    const event = removeRecord("data", "tst-kb001ms-20220629-00050008", "tst");
    const record = event.Records[0];
    if (!record?.dynamodb) throw new Error("no record");
    record.dynamodb.OldImage = { something: { S: "else" } };

    // Act
    const response = await expireData(event, lambdaContext());

    // Assess
    expect(response.batchItemFailures).toEqual([]);
  });
});
