import { sql } from "kysely";
import sharp from "sharp";
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { beforeAll, describe, expect, test } from "vitest";
import { createHandler } from "@archive/functions/ingestData";
import { useTestDatabase } from "../support/database";
import { buildFits, buildFitsHeader, bzip2, imageCards, type CardSpec } from "../support/fits";
import { lambdaContext, putObject, sqsBatchOf, type StoredObject } from "../support/objectEvents";
import { useServices } from "../support/services";

/*
 * An SQS batch's objects are recorded in one transaction (one commit), and each on its own when that fails, so the
 * partial batch response still names exactly the records that failed. Rows written together share their
 * transaction id (xmin); rows written one by one do not.
 */

const database = useTestDatabase();
const services = useServices({ database });

let handler: ReturnType<typeof createHandler>;
beforeAll(() => {
  handler = createHandler(services.ctx);
});

async function ingest(event: SQSEvent): Promise<SQSBatchResponse> {
  const response = await handler(event, lambdaContext());
  if (!response) throw new Error("an SQS batch gets a batch response");
  return response;
}

const headerCards = (filter: string, dateObs: string): CardSpec[] => [
  ["DATE-OBS", dateObs],
  ["FILTER", filter],
  ["EXPTIME", 30],
];

const txt = (filter: string, dateObs: string) => buildFitsHeader([["SIMPLE", true], ["BITPIX", 16], ["NAXIS", 0], ...headerCards(filter, dateObs)]);
const fits = (filter: string, dateObs: string) => Buffer.from(buildFits({ header: imageCards(16, headerCards(filter, dateObs)) }));

async function jpg(): Promise<Buffer> {
  return sharp({ create: { width: 60, height: 40, channels: 3, background: "#3060a0" } }).jpeg().toBuffer();
}

/** The transaction ids that wrote the rows (rows written in one transaction share one). */
async function writers(bases: readonly string[]): Promise<Set<string>> {
  const rows = await sql<{ writer: string }>`SELECT xmin::text AS writer FROM images WHERE base_filename IN (${sql.join(bases)})`.execute(
    database.db,
  );
  return new Set(rows.rows.map((row) => row.writer));
}

function noticesFor(base: string): unknown[] {
  return services.sqs
    .messages(services.queueUrl)
    .map((message): unknown => JSON.parse(message.body))
    .filter((notice) => JSON.stringify(notice).includes(`"base_filename":"${base}"`));
}

/**
 * Ten files of five exposures, in an order where one exposure's FITS comes after its .txt and another's before it, so
 * which header wins depends on the order kept: each file's key, body and event time.
 */
async function tenFiles(counterBase: number): Promise<{ key: string; body: Buffer | string; eventTime: Date }[]> {
  const base = (n: number) => `sro-kb001ms-20220629-${String(counterBase + n).padStart(8, "0")}`;
  const at = (minute: number) => new Date(Date.UTC(2022, 5, 29, 5, minute));
  const image = await jpg();
  return [
    { key: `data/${base(1)}-EX00.txt`, body: txt("PL", "2022-06-29T04:00:00.000"), eventTime: at(1) },
    { key: `data/${base(2)}-EX10.fits`, body: fits("HA", "2022-06-29T04:10:00.000"), eventTime: at(2) },
    { key: `data/${base(1)}-EX10.fits`, body: fits("HA", "2022-06-29T04:01:00.000"), eventTime: at(3) },
    { key: `data/${base(3)}-EX10.jpg`, body: image, eventTime: at(4) },
    { key: `data/${base(2)}-EX00.txt`, body: txt("PL", "2022-06-29T04:11:00.000"), eventTime: at(5) },
    { key: `data/${base(1)}-EX10.jpg`, body: image, eventTime: at(6) },
    { key: `data/${base(3)}-EX01.fits.bz2`, body: Buffer.from(bzip2(fits("OIII", "2022-06-29T04:20:00.000"))), eventTime: at(7) },
    { key: `data/${base(4)}-EP01.fits`, body: fits("SII", "2022-06-29T04:30:00.000"), eventTime: at(8) },
    { key: `data/${base(4)}-EP10.fits`, body: fits("R", "2022-06-29T04:31:00.000"), eventTime: at(9) },
    { key: `data/${base(5)}-EX00.txt`, body: txt("G", "2022-06-29T04:40:00.000"), eventTime: at(10) },
  ];
}

async function upload(files: readonly { key: string; body: Buffer | string; eventTime: Date }[]): Promise<StoredObject[]> {
  return Promise.all(files.map((file) => putObject(services.ctx, file.key, file.body, { eventTime: file.eventTime })));
}

/** Every column of an exposure's row but its id and name, for rows of twin exposures. */
async function rowsWithoutIdentity(counterBase: number): Promise<Record<string, unknown>[]> {
  const rows = await database.db
    .selectFrom("images")
    .selectAll()
    .where("base_filename", "like", `sro-kb001ms-20220629-${String(counterBase).padStart(8, "0").slice(0, 6)}%`)
    .orderBy("base_filename")
    .execute();
  return rows.map(({ image_id: _id, base_filename: _name, ...rest }) => rest);
}

describe("batch commit", () => {
  test("a batch's objects are recorded in one transaction, with a notice each", async () => {
    // Prepare
    const objects = await upload(await tenFiles(40000));
    const bases = [...new Set(objects.map((object) => object.key.slice(5, 34)))];

    // Act
    const response = await ingest(sqsBatchOf(objects));

    // Assess
    expect(response.batchItemFailures).toEqual([]);
    expect(bases).toHaveLength(5);
    expect(await writers(bases)).toHaveProperty("size", 1);
    for (const base of bases) expect(noticesFor(base).length).toBeGreaterThan(0);
  });

  test("a batch's rows are those record-by-record ingestion makes", async () => {
    // Prepare: twin exposures, the same files and event times under other names
    const together = await upload(await tenFiles(41000));
    const oneByOne = await upload(await tenFiles(42000));

    // Act
    const batched = await ingest(sqsBatchOf(together));
    const single: SQSBatchResponse[] = [];
    for (const object of oneByOne) single.push(await ingest(sqsBatchOf([object])));

    // Assess
    expect([batched, ...single].flatMap((response) => response.batchItemFailures)).toEqual([]);
    const expected = await rowsWithoutIdentity(42000);
    expect(expected).toHaveLength(5);
    expect(await rowsWithoutIdentity(41000)).toEqual(expected);
    expect(expected[0]).toMatchObject({ filter_used: "PL", fits_10_exists: true, jpg_medium_exists: true });
    expect(expected[1]).toMatchObject({ filter_used: "PL", fits_10_exists: true });
    expect(expected[2]).toMatchObject({ filter_used: "OIII", fits_01_exists: true, jpg_medium_exists: true });
    expect(expected[3]).toMatchObject({ filter_used: "SII", data_type: "EP", fits_01_exists: true, fits_10_exists: true });
  });

  test("concurrent batches holding one exposure's files in opposite orders never deadlock: each commits whole", async () => {
    // Each row write takes 20 ms (a trigger sleeps), so the two batches' transactions overlap, as under load
    await sql`CREATE FUNCTION slow_row_write() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM pg_sleep(0.02); RETURN NEW; END $$`.execute(database.db);
    await sql`CREATE TRIGGER slow_row_write BEFORE INSERT OR UPDATE ON images FOR EACH ROW EXECUTE FUNCTION slow_row_write()`.execute(
      database.db,
    );
    try {
      await opposingBatches();
    } finally {
      await sql`DROP TRIGGER slow_row_write ON images`.execute(database.db);
      await sql`DROP FUNCTION slow_row_write()`.execute(database.db);
    }
  });

  async function opposingBatches(): Promise<void> {
    for (let round = 0; round < 3; round += 1) {
      // Prepare: ten exposures; one batch brings their headers in one order, the other their FITS files in the other
      const bases = Array.from({ length: 10 }, (_, n) => `sro-kb001ms-20220629-${String(40_000 + round * 100 + n).padStart(8, "0")}`);
      const headers = await Promise.all(bases.map((base) => putObject(services.ctx, `data/${base}-EX00.txt`, txt("PL", "2022-06-29T04:00:00.000"))));
      const files = await Promise.all(
        [...bases].reverse().map((base) => putObject(services.ctx, `data/${base}-EX10.fits`, fits("HA", "2022-06-29T04:00:00.000"))),
      );

      // Act
      const responses = await Promise.all([ingest(sqsBatchOf(headers)), ingest(sqsBatchOf(files))]);

      // Assess: nothing failed, and the rows were last written by one transaction (no batch fell back to one by one)
      expect(responses.flatMap((response) => response.batchItemFailures)).toEqual([]);
      expect((await writers(bases)).size, `round ${round}`).toBe(1);
    }
  }

  test("a batch with one poisoned record commits the other nine and reports exactly the bad one", async () => {
    // Prepare: the database refuses one exposure's row (a real fault: a trigger raises for it)
    const objects = await upload(await tenFiles(43000));
    const poisonBase = "sro-kb001ms-20220629-00043004";
    await sql`CREATE FUNCTION refuse_poisoned_row() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.base_filename = ${sql.lit(poisonBase)} THEN RAISE EXCEPTION 'poisoned row %', NEW.base_filename; END IF;
        RETURN NEW;
      END $$`.execute(database.db);
    await sql`CREATE TRIGGER refuse_poisoned_row BEFORE INSERT OR UPDATE ON images FOR EACH ROW EXECUTE FUNCTION refuse_poisoned_row()`.execute(
      database.db,
    );
    const poisoned = objects.filter((object) => object.key.includes(poisonBase));
    const goodBases = [...new Set(objects.map((object) => object.key.slice(5, 34)))].filter((base) => base !== poisonBase);
    const batch = sqsBatchOf(objects);
    // One record poisoned: the exposure's first file; its second comes alone later
    const batchOfNine = { Records: batch.Records.filter((record) => !record.body.includes(`${poisonBase}-EP10`)) };
    expect(poisoned).toHaveLength(2);
    expect(batchOfNine.Records).toHaveLength(9);

    // Act
    const first = await ingest(batchOfNine);
    await sql`DROP TRIGGER refuse_poisoned_row ON images`.execute(database.db);
    const retried = batchOfNine.Records.filter((record) => first.batchItemFailures.some((failure) => failure.itemIdentifier === record.messageId));
    const second = await ingest({ Records: retried });

    // Assess
    const poisonRecord = batchOfNine.Records.find((record) => record.body.includes(`${poisonBase}-EP01`));
    expect(first.batchItemFailures).toEqual([{ itemIdentifier: poisonRecord?.messageId }]);
    expect(second.batchItemFailures).toEqual([]);
    const goodRows = await database.db.selectFrom("images").select("base_filename").where("base_filename", "in", goodBases).execute();
    expect(goodRows).toHaveLength(4);
    // The batch's transaction failed as a whole, so the others were recorded each on its own.
    expect((await writers(goodBases)).size).toBe(4);
    for (const base of goodBases) expect(noticesFor(base).length).toBeGreaterThan(0);
    // Its retry claims the notice at once (the failed delivery gave its claim back) and sends it once.
    expect(noticesFor(poisonBase)).toHaveLength(1);
    expect(await database.db.selectFrom("images").select("fits_01_exists").where("base_filename", "=", poisonBase).executeTakeFirst()).toEqual({
      fits_01_exists: true,
    });
  });
});
