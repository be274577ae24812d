import { PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { sql } from "kysely";
import { z } from "zod/v4";
import { toImagePackage, type ImagePackage } from "../api/packages";
import type { ArchiveContext } from "../platform/context";
import { TransientError } from "../platform/errors";
import { describeError } from "../platform/logger";
import { publishStuckExposures, type StuckCount } from "./exposureStatus";
import { findImage } from "./imageQueries";

/**
 * The "exposure archived" event: when an exposure becomes complete, one event on the stage's EventBridge bus for
 * downstream pipelines (plate solving, light curves, recompression). Once per exposure however its files are
 * delivered: a publisher first claims the exposure for a short lease (one UPDATE, so of concurrent deliveries one
 * wins), publishes, then marks it archived; a failed or lost publisher's claim lapses and the next delivery of any of
 * its files, or the scheduled sweep, publishes it. The schema is docs/events/exposure-archived.v1.json.
 */
export const EXPOSURE_ARCHIVED_SOURCE = "data-archive";
export const EXPOSURE_ARCHIVED_DETAIL_TYPE = "Exposure Archived";
export const EXPOSURE_ARCHIVED_VERSION = "1";

/** How long a publisher holds an exposure before another may publish it. */
export const ARCHIVED_CLAIM_SECONDS = 120;

const timestamp = z.iso.datetime();
const nullableNumber = z.number().nullable();

const imagePackageSchema = z
  .object({
    image_id: z.number().int(),
    base_filename: z.string(),
    data_type: z.string().nullable(),
    site: z.string().nullable(),
    exposure_time: nullableNumber,
    filter_used: z.string().nullable(),
    right_ascension: nullableNumber,
    declination: nullableNumber,
    azimuth: nullableNumber,
    altitude: nullableNumber,
    airmass: nullableNumber,
    fits_01_exists: z.boolean(),
    fits_10_exists: z.boolean(),
    jpg_medium_exists: z.boolean(),
    jpg_small_exists: z.boolean(),
    s3_directory: z.literal("data"),
    username: z.string().nullable(),
    user_id: z.string().nullable(),
    fits_filename: z.string(),
    fits_path: z.string(),
    SMARTSTK: z.string(),
    SSTKNUM: z.string(),
    capture_date: nullableNumber.describe("milliseconds since the epoch"),
    sort_date: nullableNumber.describe("milliseconds since the epoch"),
    jpg_url: z.string().describe("presigned GET of the medium jpg, valid 7 days; empty when none"),
    jpg_thumbnail_url: z.string().describe("presigned GET of the thumbnail, valid 7 days; empty when none"),
  })
  .describe("The image as the read API returns it (GET /image/{base_filename})");

export const exposureArchivedDetailSchema = z
  .object({
    version: z.literal(EXPOSURE_ARCHIVED_VERSION),
    base_filename: z.string(),
    site: z.string(),
    instrument: z.string(),
    data_type: z.string().nullable(),
    image: imagePackageSchema,
    header: z
      .object({
        date_obs: timestamp.nullable().describe("DATE-OBS (or the first arrival without one)"),
        exposure_time: nullableNumber.describe("seconds"),
        filter: z.string().nullable(),
        right_ascension: nullableNumber.describe("degrees"),
        declination: nullableNumber.describe("degrees"),
        altitude: nullableNumber.describe("degrees"),
        azimuth: nullableNumber.describe("degrees"),
        airmass: nullableNumber,
      })
      .describe("A typed summary of the FITS header"),
    objects: z.object({
      bucket: z.string(),
      keys: z.array(z.string()).describe("the exposure's object keys the archive has read, sorted"),
    }),
    files: z.array(z.string()).describe("the kinds of file present: header, jpg_medium, jpg_small, fits_small, fits_large"),
    status_history: z.object({
      announced_at: timestamp.nullable(),
      receiving_at: timestamp.nullable(),
      complete_at: timestamp,
    }),
  })
  .describe("detail of the EventBridge event source data-archive, detail-type Exposure Archived");

export type ExposureArchivedDetail = z.infer<typeof exposureArchivedDetailSchema>;

// The event's image is the read API's: a field added there without the schema fails to compile here.
const sameImage: [ImagePackage, z.infer<typeof imagePackageSchema>] extends [z.infer<typeof imagePackageSchema>, ImagePackage]
  ? true
  : false = true;
void sameImage;

/** The JSON Schema published as docs/events/exposure-archived.v1.json. */
export function exposureArchivedJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(exposureArchivedDetailSchema, { target: "draft-2020-12" }),
    $id: "exposure-archived.v1.json",
    title: "Exposure Archived (version 1)",
  };
}

interface ClaimedRow {
  base_filename: string;
  site: string;
  instrument: string;
  data_type: string | null;
  files: string[];
  object_keys: string[];
  announced_at: Date | null;
  receiving_at: Date | null;
  complete_at: Date;
}

type EventContext = Pick<ArchiveContext, "db" | "config" | "clock" | "log" | "events" | "s3" | "s3Public">;

/**
 * Publishes the exposure's archived event when it is complete, not yet archived and nobody holds it; true when this
 * call published it. Throws (having given the claim back) when the bus refused it, so the delivery is retried.
 */
export async function publishArchivedExposure(ctx: EventContext, baseFilename: string): Promise<boolean> {
  const bus = ctx.config.EVENT_BUS_NAME;
  if (bus === undefined) return false;
  const now = ctx.clock();
  const claimed = await sql<ClaimedRow>`
    UPDATE exposure_status SET claim_until = ${new Date(now.getTime() + ARCHIVED_CLAIM_SECONDS * 1000)}
    WHERE base_filename = ${baseFilename} AND complete_at IS NOT NULL AND archived_at IS NULL
      AND (claim_until IS NULL OR claim_until < ${now})
    RETURNING base_filename, site, instrument, data_type, files, object_keys, announced_at, receiving_at, complete_at
  `.execute(ctx.db);
  const [row] = claimed.rows;
  if (!row) return false;
  try {
    const detail = await archivedDetail(ctx, row);
    const sent = await ctx.events.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: bus,
            Source: EXPOSURE_ARCHIVED_SOURCE,
            DetailType: EXPOSURE_ARCHIVED_DETAIL_TYPE,
            Detail: JSON.stringify(detail),
            Time: now,
          },
        ],
      }),
    );
    if ((sent.FailedEntryCount ?? 0) > 0) {
      const [entry] = sent.Entries ?? [];
      throw new TransientError(`the event bus refused the archived event of ${baseFilename}: ${entry?.ErrorCode ?? "?"} ${entry?.ErrorMessage ?? ""}`);
    }
  } catch (error) {
    await releaseClaim(ctx, baseFilename, error);
    throw error;
  }
  await sql`UPDATE exposure_status SET archived_at = ${now}, claim_until = NULL WHERE base_filename = ${baseFilename}`.execute(ctx.db);
  ctx.log.info("exposure archived event published", { base_filename: baseFilename });
  return true;
}

/** At most this many exposures per sweep. */
const SWEEP_LIMIT = 200;

/**
 * Publishes the events of complete exposures that have none yet and nobody holds (a publisher that failed or died):
 * what the scheduled count runs too. Returns how many it published.
 */
export async function publishUnarchivedExposures(ctx: EventContext): Promise<number> {
  if (ctx.config.EVENT_BUS_NAME === undefined) return 0;
  const now = ctx.clock();
  const pending = await sql<{ base_filename: string }>`
    SELECT base_filename FROM exposure_status
    WHERE complete_at IS NOT NULL AND archived_at IS NULL AND (claim_until IS NULL OR claim_until < ${now})
    ORDER BY complete_at LIMIT ${SWEEP_LIMIT}
  `.execute(ctx.db);
  let published = 0;
  for (const { base_filename } of pending.rows) {
    if (await publishArchivedExposure(ctx, base_filename)) published += 1;
  }
  return published;
}

async function archivedDetail(ctx: EventContext, row: ClaimedRow): Promise<ExposureArchivedDetail> {
  const image = await findImage(ctx.db, row.base_filename);
  if (!image) throw new TransientError(`${row.base_filename} is complete and has no images row yet`);
  const iso = (date: Date | null) => date?.toISOString() ?? null;
  return {
    version: EXPOSURE_ARCHIVED_VERSION,
    base_filename: row.base_filename,
    site: row.site,
    instrument: row.instrument,
    data_type: row.data_type,
    image: await toImagePackage(ctx, image),
    header: {
      date_obs: iso(image.capture_date),
      exposure_time: image.exposure_time,
      filter: image.filter_used,
      right_ascension: image.right_ascension,
      declination: image.declination,
      altitude: image.altitude,
      azimuth: image.azimuth,
      airmass: image.airmass,
    },
    objects: { bucket: ctx.config.BUCKET_NAME, keys: [...row.object_keys].sort() },
    files: [...row.files].sort(),
    status_history: { announced_at: iso(row.announced_at), receiving_at: iso(row.receiving_at), complete_at: row.complete_at.toISOString() },
  };
}

async function releaseClaim(ctx: EventContext, baseFilename: string, cause: unknown): Promise<void> {
  try {
    await sql`UPDATE exposure_status SET claim_until = NULL WHERE base_filename = ${baseFilename} AND archived_at IS NULL`.execute(ctx.db);
  } catch (error) {
    // The claim then lapses after its lease, and a later delivery or the sweep publishes.
    ctx.log.warn("an archived event's claim could not be given back", { error: describeError(error), cause: describeError(cause) });
  }
}

/**
 * The exposures' watch, every few minutes (CountStuckExposures in AWS, a scheduled job locally): the stuck count per
 * site, and the archived events a failed or lost publisher left.
 */
export async function superviseExposures(ctx: ArchiveContext): Promise<StuckCount & { archived: number }> {
  return { ...(await publishStuckExposures(ctx)), archived: await publishUnarchivedExposures(ctx) };
}
