import { GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import type { DynamoDBStreamEvent } from "aws-lambda";
import { beforeAll, describe, expect, test } from "vitest";
import { expireEntry, sweepDueExpirations } from "@archive/core/expirations/expirations";
import { recordFile } from "@archive/core/exposures/imageStore";
import { findImage } from "@archive/core/exposures/imageQueries";
import { assignChannel, infoImage, recordInfoFile } from "@archive/core/infoImages/infoChannels";
import { parseObjectKey } from "@archive/core/names/fileName";
import type { ArchiveContext } from "@archive/core/platform/context";
import { listKeys } from "@archive/core/platform/s3";
import { createHandler as createExpireData } from "@archive/functions/expireData";
import { createHandler as createSweepExpirations } from "@archive/functions/sweepExpirations";
import streamFixture from "../fixtures/events/dynamodb-stream-ttl-remove.json";
import { useTestDatabase } from "../support/database";
import { knownObjectKey, lambdaContext, putObject } from "../support/objectEvents";
import { useServices } from "../support/services";

const database = useTestDatabase();
const services = useServices({ database });

let expireData: ReturnType<typeof createExpireData>;
beforeAll(() => {
  expireData = createExpireData(services.ctx);
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

/** A TTL removal of the tracker entry `{pk: base, s3_directory}`, as the table's NEW_AND_OLD_IMAGES stream delivers it. */
function removeRecord(directory: string, base: string): DynamoDBStreamEvent {
  const template = streamFixture.Records[0];
  if (!template) throw new Error("the stream fixture has no record");
  const image = { ...template.dynamodb.OldImage, pk: { S: base }, s3_directory: { S: directory } };
  const dynamodb = { ...template.dynamodb, Keys: { pk: image.pk }, OldImage: image, StreamViewType: "NEW_AND_OLD_IMAGES" as const };
  return { Records: [{ ...template, eventName: "REMOVE", dynamodb }] };
}

/** Tracker entries exactly as the running system writes them: `{pk, s3_directory, expiration_timestamp_s}`. */
async function putEntries(entries: (readonly [string, number])[]): Promise<void> {
  for (const [base, expiresAt] of entries) {
    await services.ctx.dynamo.send(
      new PutCommand({
        TableName: services.ctx.tables.expirations,
        Item: { pk: base, s3_directory: "data", expiration_timestamp_s: expiresAt },
      }),
    );
  }
}

async function entryOf(base: string): Promise<Record<string, unknown> | undefined> {
  const { dynamo, tables } = services.ctx;
  return (await dynamo.send(new GetCommand({ TableName: tables.expirations, Key: { pk: base } }))).Item;
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
    const response = await expireData(removeRecord("data", base), lambdaContext());

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
    const entry = { pk: base, s3_directory: "data", expiration_timestamp_s: 0 } as const;
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
    await putEntries([
      [due, now - 60],
      [notDue, now + 3600],
    ]);

    // Act
    const result = await sweepDueExpirations(services.ctx, new Date(now * 1000));

    // Assess
    expect(result).toMatchObject({ failed: 0 });
    expect(await findImage(database.db, due)).toBeUndefined();
    expect(await listKeys(services.ctx, `data/${due}-`)).toEqual([]);
    expect(await entryOf(due)).toBeUndefined();
    expect(await listKeys(services.ctx, `data/${notDue}-`)).toEqual(notDueKeys);
    expect(await findImage(database.db, notDue)).toMatchObject({ jpg_medium_exists: true });
    expect(await entryOf(notDue)).toBeDefined();
  });

  test("the scheduled sweep reads one part of the tracker a minute, and every due entry within the hour", async () => {
    // Prepare: due entries spread over the table's parts
    const bases = Array.from({ length: 12 }, (_, i) => `tst-kb001ms-20220629-0005${String(1000 + i).padStart(4, "0")}`);
    for (const base of bases) await storeExposure(base, ["EP10.jpg"]);
    const start = Math.floor(Date.now() / 3_600_000) * 3_600_000;
    await putEntries(bases.map((base) => [base, start / 1000 - 60]));
    let minute = 0;
    const clocked: ArchiveContext = { ...services.ctx, clock: () => new Date(start + minute * 60_000) };
    const sweepAt = createSweepExpirations(clocked);

    // Act
    const expiredPerMinute: number[] = [];
    for (minute = 0; minute < 60; minute++) {
      const result = (await sweepAt({}, lambdaContext())) as { expired: number; failed: number };
      expiredPerMinute.push(result.expired);
    }

    // Assess
    expect(expiredPerMinute.reduce((sum, n) => sum + n, 0)).toBe(bases.length);
    expect(Math.max(...expiredPerMinute)).toBeLessThan(bases.length);
    for (const base of bases) {
      expect(await entryOf(base)).toBeUndefined();
      expect(await listKeys(services.ctx, `data/${base}-`)).toEqual([]);
    }
  });

  test("an expired info image clears its channel only while the channel still shows it", async () => {
    // Prepare
    const expired = "tst-kb001ms-20220629-00050005";
    const other = "tst-kb001ms-20220629-00050006";
    const current = "tst-kb001ms-20220629-00050007";
    await assignChannel(services.ctx, "tst", 1, expired);
    const expiredKey = `info-images/${expired}-EX10.jpg`;
    await putObject(services.ctx, expiredKey, "jpg");
    await recordInfoFile(services.ctx, { file: knownObjectKey(expiredKey), now: new Date() });
    await assignChannel(services.ctx, "tst", 2, other);
    await recordInfoFile(services.ctx, { file: knownObjectKey(`info-images/${other}-EX10.jpg`), now: new Date() });
    await assignChannel(services.ctx, "tst", 2, current);
    await recordInfoFile(services.ctx, { file: knownObjectKey(`info-images/${current}-EX10.jpg`), now: new Date() });

    // Act
    await expireData(removeRecord("info-images", expired), lambdaContext());
    await expireData(removeRecord("info-images", other), lambdaContext());

    // Assess
    expect(await infoImage(services.ctx, "tst", 1, new Date())).toBeUndefined();
    expect(await listKeys(services.ctx, `info-images/${expired}-`)).toEqual([]);
    expect(await infoImage(services.ctx, "tst", 2, new Date())).toMatchObject({ base_filename: current });
  });

  test("a stream record that is not an expiration entry is acknowledged", async () => {
    // Prepare
    const event = removeRecord("data", "tst-kb001ms-20220629-00050008");
    const record = event.Records[0];
    if (!record?.dynamodb) throw new Error("no record");
    record.dynamodb.OldImage = { something: { S: "else" } };

    // Act
    const response = await expireData(event, lambdaContext());

    // Assess
    expect(response.batchItemFailures).toEqual([]);
  });
});
