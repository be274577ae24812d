import fc from "fast-check";
import type { Kysely } from "kysely";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { recordFile, recordHeader } from "@archive/core/exposures/imageStore";
import type { Database, ImageHeaderFields } from "@archive/core/exposures/imagesTable";
import { parseFileName } from "@archive/core/names/fileName";
import { createDb } from "@archive/core/platform/postgres";
import { useTestDatabase } from "../support/database";

const database = useTestDatabase();

const CONNECTIONS = 4;
let connections: Kysely<Database>[] = [];

beforeAll(() => {
  connections = Array.from({ length: CONNECTIONS }, () => createDb(database.url, { poolSize: 1 }));
});

afterAll(async () => {
  await Promise.all(connections.map((connection) => connection.destroy()));
});

type ExposureEvent = "EX01.txt" | "EX10.jpg" | "EX11.jpg" | "EX10.fits.bz2" | "EX01.fits.bz2";
const EVENTS: readonly ExposureEvent[] = ["EX01.txt", "EX10.jpg", "EX11.jpg", "EX10.fits.bz2", "EX01.fits.bz2"];

const captured = new Date("2022-06-29T05:06:07.250Z");
const fields: ImageHeaderFields = {
  right_ascension: 266.4,
  declination: -29.01,
  altitude: 42.5,
  azimuth: 190.25,
  filter_used: "ha",
  airmass: 1.47,
  exposure_time: 300,
  user_id: "google-oauth2|42",
  username: "Henrietta Leavitt",
  capture_date: captured,
  sort_date: captured,
  header: '{"FILTER": "ha", "EXPTIME": "300", "DATE-OBS": "2022-06-29T05:06:07.250", "END": ""}',
  header_json: JSON.stringify({ FILTER: "ha", EXPTIME: 300, "DATE-OBS": "2022-06-29T05:06:07.250" }),
};

/** Each file's own arrival: the S3 event time, which differs between the files of an exposure. */
const arrivals: Readonly<Record<ExposureEvent, Date>> = {
  "EX01.txt": new Date("2022-06-29T05:12:00.000Z"),
  "EX10.jpg": new Date("2022-06-29T05:11:00.000Z"),
  "EX11.jpg": new Date("2022-06-29T05:11:30.000Z"),
  "EX10.fits.bz2": new Date("2022-06-29T05:13:00.000Z"),
  "EX01.fits.bz2": new Date("2022-06-29T05:14:00.000Z"),
};

let counter = 0;

/** What ingestion does for each file of an exposure: the txt and fits files carry the header, every file its flag. */
async function apply(db: Kysely<Database>, base: string, event: ExposureEvent, withHeaders = true): Promise<void> {
  const file = parseFileName(`${base}-${event}`);
  if (withHeaders && file.extension !== "jpg") await recordHeader(db, file, fields, arrivals[event]);
  await recordFile(db, file, arrivals[event]);
}

/** Applies a plan, each lane's events in order on its own connection, the lanes concurrently. */
async function deliver(base: string, plan: readonly { event: ExposureEvent; lane: number }[], withHeaders = true): Promise<void> {
  await Promise.all(
    connections.map(async (connection, lane) => {
      for (const { event } of plan.filter((delivery) => delivery.lane === lane)) await apply(connection, base, event, withHeaders);
    }),
  );
}

/** Every event at least once, some repeated, in any order, each handed to one of the connections. */
const deliveries = fc
  .tuple(
    fc.array(fc.constantFrom(...EVENTS), { maxLength: 10 }),
    fc.array(fc.nat({ max: CONNECTIONS - 1 }), { minLength: EVENTS.length + 10, maxLength: EVENTS.length + 10 }),
  )
  .chain(([repeats, lanes]) => {
    const events = [...EVENTS, ...repeats];
    return fc
      .shuffledSubarray(events, { minLength: events.length, maxLength: events.length })
      .map((order) => order.map((event, index) => ({ event, lane: lanes[index] ?? 0 })));
  });

describe("an exposure's events over concurrent connections", () => {
  test("any order, any repetition, any interleaving ends in one row with the same content", async () => {
    await fc.assert(
      fc.asyncProperty(deliveries, async (plan) => {
        // Prepare
        counter += 1;
        const base = `prp-kb001ms-20220629-${String(counter).padStart(8, "0")}`;

        // Act
        await deliver(base, plan);

        // Assess
        const rows = await database.db
          .selectFrom("images")
          .selectAll()
          .where("base_filename", "=", base)
          .execute();
        expect(rows).toHaveLength(1);
        expect(rows[0]).toEqual({
          image_id: expect.any(Number),
          base_filename: base,
          site: "prp",
          data_type: "EX",
          ...fields,
          header_json: { FILTER: "ha", EXPTIME: 300, "DATE-OBS": "2022-06-29T05:06:07.250" },
          fits_01_exists: true,
          fits_10_exists: true,
          jpg_medium_exists: true,
          jpg_medium_reduction: "10",
          jpg_small_exists: true,
        });
      }),
      { numRuns: 60 },
    );
  });

  test("files without a header, in any order and interleaving, date the row by the earliest arrival", async () => {
    await fc.assert(
      fc.asyncProperty(deliveries, async (plan) => {
        // Prepare
        counter += 1;
        const base = `prp-kb001ms-20220629-${String(counter).padStart(8, "0")}`;

        // Act
        await deliver(base, plan, false);

        // Assess
        const rows = await database.db.selectFrom("images").selectAll().where("base_filename", "=", base).execute();
        expect(rows).toEqual([
          expect.objectContaining({
            capture_date: arrivals["EX10.jpg"],
            sort_date: arrivals["EX10.jpg"],
            header: null,
            header_json: null,
            fits_01_exists: true,
            fits_10_exists: true,
            jpg_medium_exists: true,
            jpg_small_exists: true,
          }),
        ]);
      }),
      { numRuns: 40 },
    );
  });
});
