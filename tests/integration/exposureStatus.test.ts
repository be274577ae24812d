import { randomInt } from "node:crypto";
import { sql } from "kysely";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { handleApiRequest, type ApiRequest } from "@archive/core/api/handleRequest";
import { operationRoutes } from "@archive/core/api/operationRoutes";
import { uploadRoutes } from "@archive/core/api/uploadRoutes";
import {
  EXPOSURE_ARCHIVED_DETAIL_TYPE,
  EXPOSURE_ARCHIVED_SOURCE,
  exposureArchivedDetailSchema,
  publishUnarchivedExposures,
} from "@archive/core/exposures/archivedEvent";
import { publishStuckExposures, STUCK_EXPOSURES_METRIC } from "@archive/core/exposures/exposureStatus";
import type { ArchiveContext } from "@archive/core/platform/context";
import { createHandler as createCountHandler } from "@archive/functions/countStuckExposures";
import { createHandler } from "@archive/functions/ingestData";
import { startEventBusServer, type LocalEventBusServer } from "@archive/local/eventBusServer";
import { useTestDatabase } from "../support/database";
import { buildFits, buildFitsHeader, bzip2, imageCards, type CardSpec } from "../support/fits";
import { lambdaContext, putObject, sqsBatchOf, type StoredObject } from "../support/objectEvents";
import { useServices } from "../support/services";

const database = useTestDatabase();
const services = useServices({ database, settings: { STUCK_AFTER_MINUTES: "2", ALLOW_ANONYMOUS_UPLOADS: "true", LOG_LEVEL: "SILENT" } });

let bus: LocalEventBusServer;
let ctx: ArchiveContext;
let ingest: ReturnType<typeof createHandler>;
beforeAll(async () => {
  bus = await startEventBusServer();
  ctx = services.contextWith({ EVENT_BUS_NAME: "archive-test-events", EVENTBRIDGE_ENDPOINT: bus.endpoint });
  ingest = createHandler(ctx);
});
afterAll(async () => {
  await bus.close();
});

/** The same context with the clock at `now`: what status and stuck answer then. */
const at = (now: Date): ArchiveContext => ({ ...ctx, clock: () => now });
const minutesLater = (minutes: number) => new Date(Date.now() + minutes * 60_000);

let counter = 0;
/** A base filename of its own site, so each test owns its rows and its stuck list. */
function newExposure(): { site: string; base: string } {
  counter += 1;
  const site = `s${String(randomInt(0, 99_999)).padStart(5, "0")}`;
  return { site, base: `${site}-kb001ms-20240312-${String(counter).padStart(8, "0")}` };
}

const headerCards = (base: string): CardSpec[] => [
  ["SIMPLE", true],
  ["BITPIX", 16],
  ["NAXIS", 0],
  ["DATE-OBS", "2024-03-12T04:12:40.000"],
  ["FILTER", "PL"],
  ["EXPTIME", 30],
  ["ORIGNAME", base],
];

/** The files a site sends for one exposure by default: header, small FITS (bzip2), medium jpg. */
async function exposureFiles(base: string): Promise<{ header: StoredObject; fits: StoredObject; jpg: StoredObject }> {
  const [header, fits, jpg] = await Promise.all([
    putObject(ctx, `data/${base}-EX00.txt`, buildFitsHeader(headerCards(base)).match(/.{80}/g)?.join("\n") ?? ""),
    putObject(ctx, `data/${base}-EX10.fits.bz2`, Buffer.from(bzip2(buildFits({ header: imageCards(16, headerCards(base).slice(3)) })))),
    putObject(ctx, `data/${base}-EX10.jpg`, await sharp({ create: { width: 60, height: 40, channels: 3, background: "#3060a0" } }).jpeg().toBuffer()),
  ]);
  return { header, fits, jpg };
}

/** Delivers batches concurrently, then redelivers what each reported failed (as SQS would) until nothing fails. */
async function deliverUntilDone(batches: StoredObject[][]): Promise<void> {
  let pending = batches;
  for (let round = 0; pending.length > 0; round += 1) {
    if (round > 10) throw new Error("deliveries still failing after 10 rounds");
    const retries = await Promise.all(
      pending.map(async (batch) => {
        const event = sqsBatchOf(batch);
        const response = await ingest(event, lambdaContext());
        const failed = new Set((response?.batchItemFailures ?? []).map((failure) => failure.itemIdentifier));
        return batch.filter((_, position) => failed.has(event.Records[position]?.messageId ?? ""));
      }),
    );
    pending = retries.filter((retry) => retry.length > 0);
  }
}

function shuffled<T>(items: readonly T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = randomInt(0, i + 1);
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}

const eventsOf = (base: string) =>
  bus.events().filter((event) => exposureArchivedDetailSchema.safeParse(event.detail).data?.base_filename === base);

function request(path: string, query: Record<string, string> = {}): ApiRequest {
  return { method: "GET", path, query, headers: {}, body: undefined, requestId: `status-${path}` };
}

const statusSchema = z.object({
  base_filename: z.string(),
  status: z.enum(["announced", "receiving", "complete"]),
  stuck: z.boolean(),
  files: z.array(z.string()),
  missing: z.array(z.string()),
  announced_at: z.string().nullable(),
  receiving_at: z.string().nullable(),
  complete_at: z.string().nullable(),
  archived_at: z.string().nullable(),
  generated_preview: z.object({ source_key: z.string(), generated_at: z.string() }).nullable(),
});
const stuckSchema = z.object({ stuck_after_minutes: z.number(), exposures: z.array(statusSchema) });

async function getStatus(base: string, now = new Date()) {
  const response = await handleApiRequest(at(now), operationRoutes, request(`/status/${base}`));
  return { status: response.status, body: JSON.parse(response.body) as unknown };
}

async function getStuck(site: string | undefined, now: Date) {
  const response = await handleApiRequest(at(now), operationRoutes, request("/stuck", site ? { site } : {}));
  expect(response.status).toBe(200);
  return stuckSchema.parse(JSON.parse(response.body));
}

describe("the exposure-archived event", () => {
  it("is published exactly once when an exposure's files come duplicated, shuffled and concurrently", async () => {
    // Prepare: each file's event three times, in shuffled batches of 1 to 3, all delivered at once.
    const { base } = newExposure();
    const { header, fits, jpg } = await exposureFiles(base);
    const deliveries = shuffled([header, fits, jpg, header, fits, jpg, header, fits, jpg]);
    const batches = [deliveries.slice(0, 2), deliveries.slice(2, 3), deliveries.slice(3, 6), deliveries.slice(6, 7), deliveries.slice(7)];

    // Act
    await deliverUntilDone(batches);

    // Assess: one event, in the published shape, whose status says archived.
    const events = eventsOf(base);
    expect(events).toHaveLength(1);
    const [event] = events;
    expect(event).toMatchObject({ eventBusName: "archive-test-events", source: EXPOSURE_ARCHIVED_SOURCE, detailType: EXPOSURE_ARCHIVED_DETAIL_TYPE });
    const detail = exposureArchivedDetailSchema.parse(event?.detail);
    expect(detail).toMatchObject({
      version: "1",
      image: { base_filename: base, jpg_medium_exists: true, fits_10_exists: true, filter_used: "PL", exposure_time: 30 },
      header: { date_obs: "2024-03-12T04:12:40.000Z", filter: "PL", exposure_time: 30 },
      objects: { bucket: services.bucket },
    });
    expect(detail.objects.keys).toEqual(expect.arrayContaining([header.key, fits.key, jpg.key]));
    expect(detail.files).toEqual(expect.arrayContaining(["fits_small", "header", "jpg_medium"]));
    expect(Date.parse(detail.status_history.complete_at)).toBeGreaterThanOrEqual(Date.parse(detail.status_history.receiving_at ?? ""));
    const { body } = await getStatus(base);
    expect(statusSchema.parse(body)).toMatchObject({ status: "complete", stuck: false, missing: [], archived_at: expect.any(String) });
  });

  it("is not published again when a file of an archived exposure is uploaded and delivered again", async () => {
    // Prepare
    const { base } = newExposure();
    const { header, fits, jpg } = await exposureFiles(base);
    await deliverUntilDone([[header, fits, jpg]]);
    expect(eventsOf(base)).toHaveLength(1);

    // Act: the site sends its jpg again (a new object event), and the sweep runs.
    const again = await putObject(ctx, jpg.key, await sharp({ create: { width: 60, height: 40, channels: 3, background: "#000" } }).jpeg().toBuffer());
    await deliverUntilDone([[again]]);
    await publishUnarchivedExposures(ctx);

    // Assess
    expect(eventsOf(base)).toHaveLength(1);
  });

  it("is published by the sweep when its publisher's claim lapsed", async () => {
    // Prepare: complete, and held by a publisher that died before it published.
    const { base } = newExposure();
    const { header, fits, jpg } = await exposureFiles(base);
    await deliverUntilDone([[header]]);
    await deliverUntilDone([[fits]]);
    const held = new Date(Date.now() + 60_000);
    await sql`UPDATE exposure_status SET claim_until = ${held} WHERE base_filename = ${base}`.execute(ctx.db);
    await deliverUntilDone([[jpg]]);
    expect(eventsOf(base)).toHaveLength(0);

    // Act: the sweep while the claim holds, then after it lapsed.
    const whileHeld = await publishUnarchivedExposures(at(new Date()));
    await publishUnarchivedExposures(at(minutesLater(3)));
    await publishUnarchivedExposures(at(minutesLater(4)));

    // Assess
    expect(whileHeld).toBe(0);
    expect(eventsOf(base)).toHaveLength(1);
  });
});

describe("exposure status and stuck exposures", () => {
  it("a stuck exposure is reported with what it misses, then cleared when its last file arrives", async () => {
    // Prepare: header and jpg, no FITS.
    const { site, base } = newExposure();
    const { header, fits, jpg } = await exposureFiles(base);
    await deliverUntilDone([[jpg, header]]);

    // Act + Assess: receiving, not stuck yet; stuck 3 minutes later (threshold 2), with what is missing.
    const { body: receiving } = await getStatus(base);
    expect(statusSchema.parse(receiving)).toMatchObject({ status: "receiving", stuck: false, missing: ["fits_small"], complete_at: null });
    expect((await getStuck(site, new Date())).exposures).toEqual([]);
    const later = minutesLater(3);
    const stuck = await getStuck(site, later);
    expect(stuck.stuck_after_minutes).toBe(2);
    expect(stuck.exposures.map((exposure) => [exposure.base_filename, exposure.missing])).toEqual([[base, ["fits_small"]]]);
    expect((await getStuck(undefined, later)).exposures.map((exposure) => exposure.base_filename)).toContain(base);

    // Act: the FITS arrives.
    await deliverUntilDone([[fits]]);

    // Assess: complete, no longer stuck, one archived event.
    const { body: complete } = await getStatus(base, later);
    expect(statusSchema.parse(complete)).toMatchObject({ status: "complete", stuck: false, missing: [] });
    expect((await getStuck(site, later)).exposures).toEqual([]);
    expect(eventsOf(base)).toHaveLength(1);
  });

  it("publishes StuckExposures per site with the site as dimension", async () => {
    // Prepare
    const { site, base } = newExposure();
    const { header } = await exposureFiles(base);
    await deliverUntilDone([[header]]);
    const published: { site?: string; name: string; value: number }[] = [];
    const metrics = {
      singleMetric: () => {
        let dimension: string | undefined;
        return {
          addDimension: (_name: string, value: string) => (dimension = value),
          addMetric: (name: string, _unit: unknown, value: number) => published.push({ ...(dimension ? { site: dimension } : {}), name, value }),
        };
      },
      addMetric: (name: string, _unit: unknown, value: number) => published.push({ name, value }),
    };

    // Act
    await publishStuckExposures({ ...at(minutesLater(3)), metrics: metrics as unknown as ArchiveContext["metrics"] });

    // Assess
    expect(published).toContainEqual({ site, name: STUCK_EXPOSURES_METRIC, value: 1 });
    expect(published.filter((metric) => metric.site === undefined)).toHaveLength(1);
  });

  it("the scheduled function counts the stuck exposures and publishes the archived events left unpublished", async () => {
    // Prepare: one stuck exposure, and a complete one ingested while no bus was configured (no event yet).
    const { site, base } = newExposure();
    const { header } = await exposureFiles(base);
    await deliverUntilDone([[header]]);
    const { base: completed } = newExposure();
    const files = await exposureFiles(completed);
    const withoutBus = createHandler(services.ctx);
    await withoutBus(sqsBatchOf([files.header, files.fits, files.jpg]), lambdaContext());
    expect(eventsOf(completed)).toHaveLength(0);
    const count = createCountHandler(at(minutesLater(3)));

    // Act
    const result = await count({}, lambdaContext());

    // Assess
    expect(result.sites).toContainEqual({ site, stuck: 1 });
    expect(result.archived).toBeGreaterThanOrEqual(1);
    expect(eventsOf(completed)).toHaveLength(1);
    expect(statusSchema.parse((await getStatus(completed)).body).archived_at).not.toBeNull();
  });

  it("an upload request with a header announces the exposure before any file arrives", async () => {
    // Prepare
    const { base } = newExposure();
    const body = JSON.stringify({ object_name: `${base}-EX00.txt`, s3_directory: "data", header: { "DATE-OBS": "2024-03-12T04:12:40.000", EXPTIME: 30 } });

    // Act
    const upload = await handleApiRequest(ctx, uploadRoutes, { ...request("/upload"), method: "POST", body, headers: { "content-type": "application/json" } });

    // Assess
    expect(upload.status).toBe(200);
    const { body: announced } = await getStatus(base);
    expect(statusSchema.parse(announced)).toMatchObject({ status: "announced", files: [], receiving_at: null, announced_at: expect.any(String) });
    expect(statusSchema.parse((await getStatus(base, minutesLater(3))).body).stuck).toBe(true);
  });

  it("a site's own expected set, most specific first, decides when it is complete", async () => {
    // Prepare: this site expects only the header and the jpg for EX exposures.
    const { site, base } = newExposure();
    await sql`INSERT INTO expected_files (site, data_type, files) VALUES (${site}, 'EX', ARRAY['header', 'jpg_medium']), (${site}, '*', ARRAY['header', 'fits_large'])`.execute(ctx.db);
    const { header, jpg } = await exposureFiles(base);

    // Act
    await deliverUntilDone([[header, jpg]]);

    // Assess
    expect(statusSchema.parse((await getStatus(base)).body)).toMatchObject({ status: "complete", missing: [] });
    expect(eventsOf(base)).toHaveLength(1);
  });

  it("answers 404 with the reason for an unknown exposure, 400 for a bad base filename", async () => {
    const { base } = newExposure();

    const unknown = await getStatus(base);
    const bad = await getStatus("not-a-base");

    expect(unknown.status).toBe(404);
    expect(JSON.stringify(unknown.body)).toMatch(/neither an upload request with its header nor any of its files/);
    expect(bad.status).toBe(400);
  });
});
