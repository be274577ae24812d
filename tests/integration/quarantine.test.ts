import { randomBytes, randomInt } from "node:crypto";
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import type { SQSEvent } from "aws-lambda";
import sharp from "sharp";
import { beforeAll, describe, expect, test } from "vitest";
import { handleApiRequest } from "@archive/core/api/handleRequest";
import { operationRoutes } from "@archive/core/api/operationRoutes";
import { findImage } from "@archive/core/exposures/imageQueries";
import { MAX_HEADER_TEXT_BYTES } from "@archive/core/fits/hdus";
import type { ArchiveContext } from "@archive/core/platform/context";
import { listQuarantine, quarantinedObject, type QuarantinedObject } from "@archive/core/quarantine/quarantine";
import { reconcile, type ReconcileReport } from "@archive/core/quarantine/reconcile";
import type { ReingestReport } from "@archive/core/quarantine/reingest";
import { createHandler as createDataHandler } from "@archive/functions/ingestData";
import { createHandler as createAllskyHandler } from "@archive/functions/ingestAllsky";
import { useTestDatabase } from "../support/database";
import { buildFitsHeader, type CardSpec } from "../support/fits";
import { lambdaContext, missingObject, putObject, s3Notification, sqsBatch, type StoredObject } from "../support/objectEvents";
import { useServices } from "../support/services";

const database = useTestDatabase();
const services = useServices({ database });

let ctx: ArchiveContext;
let ingestData: ReturnType<typeof createDataHandler>;
let ingestAllsky: ReturnType<typeof createAllskyHandler>;
const queues = { data: "", allsky: "" };
/** Messages of the ingest queues already handed to a handler. */
const consumed = new Set<string>();

beforeAll(() => {
  queues.data = services.sqs.queueUrl("data-ingest-test");
  queues.allsky = services.sqs.queueUrl("allsky-ingest-test");
  ctx = services.contextWith({
    DATA_INGEST_QUEUE_URL: queues.data,
    INFO_IMAGES_INGEST_QUEUE_URL: services.sqs.queueUrl("info-images-ingest-test"),
    ALLSKY_INGEST_QUEUE_URL: queues.allsky,
    RECONCILE_GRACE_MINUTES: "0",
  });
  ingestData = createDataHandler(ctx);
  ingestAllsky = createAllskyHandler(ctx);
});

const uniqueSite = () => `q${randomBytes(3).toString("hex").slice(0, 5)}`;
const uniqueBase = (site: string) => `${site}-kb001ms-${today()}-${String(randomInt(0, 99_999_999)).padStart(8, "0")}`;
const today = () => new Date().toISOString().slice(0, 10).replace(/-/g, "");

const headerText = (base: string) => {
  const cards: CardSpec[] = [
    ["SIMPLE", true],
    ["BITPIX", 16],
    ["NAXIS", 0],
    ["DATE-OBS", "2024-03-12T04:12:40.000"],
    ["FILTER", "PL"],
    ["EXPTIME", 30],
    ["ORIGNAME", base],
  ];
  return buildFitsHeader(cards).match(/.{80}/g)?.join("\n") ?? "";
};

const jpg = () => sharp({ create: { width: 120, height: 80, channels: 3, background: "#3060a0" } }).jpeg().toBuffer();

async function ingest(objects: StoredObject[], receiveCount = 1, handlerCtx?: ArchiveContext): Promise<string[]> {
  const handler = handlerCtx ? createDataHandler(handlerCtx) : ingestData;
  const event = sqsBatch(objects.map((object) => ({ body: s3Notification([object]), receiveCount })));
  const response = await handler(event, lambdaContext());
  return (response?.batchItemFailures ?? []).map((failure) => failure.itemIdentifier);
}

/** What SQS would deliver of the queue's new messages: each re-ingestion's body, as sent, to its handler. */
async function deliverQueued(): Promise<number> {
  let delivered = 0;
  for (const [queue, handler] of [
    [queues.data, ingestData],
    [queues.allsky, ingestAllsky],
  ] as const) {
    const fresh = services.sqs.messages(queue).filter((message) => !consumed.has(message.messageId));
    for (const message of fresh) consumed.add(message.messageId);
    if (fresh.length === 0) continue;
    const event: SQSEvent = sqsBatch(fresh.map((message): { body: unknown } => ({ body: JSON.parse(message.body) })));
    const response = await handler(event, lambdaContext());
    expect(response?.batchItemFailures ?? []).toEqual([]);
    delivered += fresh.length;
  }
  return delivered;
}

async function request(method: "GET" | "POST", path: string, options: { query?: Record<string, string>; body?: unknown } = {}) {
  const response = await handleApiRequest(ctx, operationRoutes, {
    method,
    path,
    query: options.query ?? {},
    headers: { "content-type": "application/json" },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    requestId: "test",
  });
  return { status: response.status, body: JSON.parse(response.body) as unknown };
}

async function deliveryRecord(key: string): Promise<Record<string, unknown> | undefined> {
  const result = await ctx.dynamo.send(new GetCommand({ TableName: ctx.tables.objectDeliveries, Key: { object_key: key } }));
  return result.Item;
}

const hourAgo = () => new Date(Date.now() - 3_600_000);

describe("the quarantine", () => {
  test("each refusal is recorded with its reason, the error, its site, when and how many times", async () => {
    // Prepare
    const site = uniqueSite();
    const badName = await putObject(ctx, `data/${site}-kb001ms-notadate-EX10.jpg`, "x");
    const header = await putObject(ctx, `data/${uniqueBase(site)}-EX00.txt`, "A".repeat(MAX_HEADER_TEXT_BYTES + 80));
    const corrupt = await putObject(ctx, `data/${uniqueBase(site)}-EX10.jpg`, "not a jpeg at all");
    const gone = missingObject(ctx.config.BUCKET_NAME, `data/${uniqueBase(site)}-EX00.txt`);

    // Act
    const failed = await ingest([badName, header, corrupt, gone]);
    await ingest([gone]);

    // Assess
    expect(failed).toEqual([]);
    const reasons = Object.fromEntries(
      (await Promise.all([badName, header, corrupt, gone].map((object) => quarantinedObject(ctx, object.key)))).map((item) => [item.object_key, item]),
    );
    expect(reasons[badName.key]).toMatchObject({ reason: "bad_name", state: "quarantined", times: 1, error: expect.stringContaining("invalid object key") });
    expect(reasons[badName.key]?.site).toBeUndefined();
    expect(reasons[header.key]).toMatchObject({ reason: "unreadable_header", site, times: 1, error: expect.stringContaining("not a FITS header") });
    expect(reasons[corrupt.key]).toMatchObject({ reason: "corrupt_jpg", site, times: 1 });
    expect(reasons[gone.key]).toMatchObject({ reason: "object_gone", site, times: 2, error: expect.stringContaining("does not exist") });
    expect(Date.parse(reasons[gone.key]?.quarantined_at ?? "")).toBeGreaterThan(Date.now() - 60_000);
  });

  test("a retryable failure is quarantined as dead-lettered on its last receive only", async () => {
    // Prepare: a table that does not exist fails every delivery record, a fault retrying may cure
    const broken = services.contextWith({ OBJECT_DELIVERIES_TABLE: "no-such-table" });
    const site = uniqueSite();
    const early = await putObject(ctx, `data/${uniqueBase(site)}-EX00.txt`, headerText("x"));
    const last = await putObject(ctx, `data/${uniqueBase(site)}-EX00.txt`, headerText("y"));

    // Act
    const earlyFailures = await ingest([early], 4, broken);
    const lastFailures = await ingest([last], ctx.config.INGEST_MAX_RECEIVE_COUNT, broken);

    // Assess: both fail their records (the queue moves the last one to its dead letters)
    expect(earlyFailures).toHaveLength(1);
    expect(lastFailures).toHaveLength(1);
    await expect(quarantinedObject(ctx, early.key)).rejects.toThrow(/not in the quarantine/);
    expect(await quarantinedObject(ctx, last.key)).toMatchObject({ reason: "dead_lettered", site, error: expect.stringContaining("DynamoDB") });
  });

  test("GET /quarantine lists a site's objects since a time, newest first, and one object by its key", async () => {
    // Prepare
    const site = uniqueSite();
    const first = missingObject(ctx.config.BUCKET_NAME, `data/${uniqueBase(site)}-EX10.jpg`);
    const second = missingObject(ctx.config.BUCKET_NAME, `data/${uniqueBase(site)}-EX10.jpg`);
    await ingest([first]);
    await ingest([second]);

    // Act
    const listed = await request("GET", "/quarantine", { query: { site, since: "1h" } });
    const future = await request("GET", "/quarantine", { query: { site, since: "2099-01-01T00:00:00Z" } });
    const one = await request("GET", "/quarantine", { query: { key: first.key } });
    const badSite = await request("GET", "/quarantine", { query: { site: "no/such" } });

    // Assess
    expect(listed.status).toBe(200);
    expect((listed.body as { objects: QuarantinedObject[] }).objects.map((object) => object.object_key)).toEqual([second.key, first.key]);
    expect(future.body).toEqual({ objects: [] });
    expect(one.body).toMatchObject({ objects: [{ object_key: first.key, reason: "object_gone" }] });
    expect(badSite.status).toBe(400);
  });
});

describe("re-ingestion", () => {
  test("an object refused because it was gone, then put back without an event, is re-ingested to a complete row", async () => {
    // Prepare
    const site = uniqueSite();
    const base = uniqueBase(site);
    const key = `data/${base}-EX00.txt`;
    await ingest([missingObject(ctx.config.BUCKET_NAME, key)]);
    await putObject(ctx, key, headerText(base));
    await putObject(ctx, `data/${base}-EX10.jpg`, await jpg());

    // Act
    const reply = await request("POST", "/reingest", { body: { quarantined: true, site } });
    const jpgReply = await request("POST", "/reingest", { body: { keys: [`data/${base}-EX10.jpg`] } });
    const delivered = await deliverQueued();

    // Assess
    expect(reply.body).toMatchObject({ requested: 1, sent: 1, gone: 0, objects: [{ key, status: "sent" }] });
    expect(jpgReply.body).toMatchObject({ sent: 1 });
    expect(delivered).toBeGreaterThanOrEqual(2);
    expect(await findImage(database.db, base)).toMatchObject({ exposure_time: 30, jpg_medium_exists: true });
    expect(await quarantinedObject(ctx, key)).toMatchObject({ state: "reingested", reingested_at: expect.any(String) });
    expect(await listQuarantine(ctx, { site, quarantinedOnly: true })).toEqual([]);
  });

  test("a header refused, then fixed in place, is processed again though its event was already delivered", async () => {
    // Prepare
    const site = uniqueSite();
    const base = uniqueBase(site);
    const refused = await putObject(ctx, `data/${base}-EX00.txt`, "A".repeat(MAX_HEADER_TEXT_BYTES + 80));
    await ingest([refused]);
    await putObject(ctx, refused.key, headerText(base));

    // Act
    const reply = await request("POST", "/reingest", { body: { keys: [refused.key] } });
    await deliverQueued();

    // Assess: the re-ingestion's sequencer sorts after the refused event's
    const [sent] = (reply.body as ReingestReport).objects;
    expect(sent?.sequencer).toMatch(new RegExp(`^${refused.sequencer}\\.00000001$`));
    expect(await findImage(database.db, base)).toMatchObject({ exposure_time: 30, filter_used: "PL" });
    expect(await deliveryRecord(refused.key)).toMatchObject({ notified_sequencer: expect.stringMatching(/\.00000001$/) });
  });

  test("a newer upload's event still wins over a re-ingestion, and a repeated re-ingestion is processed again", async () => {
    // Prepare
    const site = uniqueSite();
    const base = uniqueBase(site);
    const first = await putObject(ctx, `data/${base}-EX00.txt`, headerText(base));
    await ingest([first]);
    await request("POST", "/reingest", { body: { keys: [first.key] } });
    await deliverQueued();
    await request("POST", "/reingest", { body: { keys: [first.key] } });
    await deliverQueued();
    expect(await deliveryRecord(first.key)).toMatchObject({ notified_sequencer: expect.stringMatching(/\.00000002$/) });
    const newer = await putObject(ctx, first.key, headerText(base));

    // Act
    const failures = await ingest([newer]);

    // Assess
    expect(failures).toEqual([]);
    expect(await deliveryRecord(first.key)).toMatchObject({ sequencer: expect.stringMatching(new RegExp(`${newer.sequencer}$`)), notified_sequencer: expect.stringMatching(new RegExp(`${newer.sequencer}$`)) });
  });

  test("a gone object is reported, not sent, and a key outside the ingested prefixes is refused", async () => {
    // Prepare
    const site = uniqueSite();
    const gone = `data/${uniqueBase(site)}-EX10.jpg`;
    const before = services.sqs.messages(queues.data).length;

    // Act
    const reply = await request("POST", "/reingest", { body: { keys: [gone, "downloads/x.tif"] } });
    const empty = await request("POST", "/reingest", { body: { keys: [] } });

    // Assess
    expect(reply.body).toMatchObject({ requested: 2, sent: 0, gone: 1, refused: 1 });
    expect(services.sqs.messages(queues.data)).toHaveLength(before);
    expect(empty.status).toBe(400);
  });
});

describe("the reconciler", () => {
  test("a dry run reports lost events and changes nothing", async () => {
    // Prepare
    const site = uniqueSite();
    const lost = await putObject(ctx, `data/${uniqueBase(site)}-EX00.txt`, headerText("x"));
    const before = services.sqs.messages(queues.data).length;

    // Act
    const reply = await request("POST", "/reconcile", { body: { since: "1h", dry_run: true } });

    // Assess
    const report = reply.body as ReconcileReport;
    expect(report).toMatchObject({ dry_run: true, complete: true, skipped_prefixes: 0, reingested: 0 });
    expect(report.lost_keys).toContain(lost.key);
    expect(report.list_calls).toBeGreaterThan(0);
    expect(services.sqs.messages(queues.data)).toHaveLength(before);
    expect(await deliveryRecord(lost.key)).toBeUndefined();
  });

  test("objects put with no event delivered are re-ingested to a complete row; delivered ones are left alone", async () => {
    // Prepare
    const site = uniqueSite();
    const base = uniqueBase(site);
    const delivered = await putObject(ctx, `data/${uniqueBase(site)}-EX00.txt`, headerText("d"));
    await ingest([delivered]);
    const header = await putObject(ctx, `data/${base}-EX00.txt`, headerText(base));
    const medium = await putObject(ctx, `data/${base}-EX10.jpg`, await jpg());
    const allsky = await putObject(ctx, `allsky/${site}-allsky-${today()}-00000001-EX10.jpg`, await jpg());
    const overwritten = await putObject(ctx, delivered.key, headerText("changed"));

    // Act
    const report = await reconcile(ctx, { since: hourAgo(), dryRun: false, graceMs: 0 });
    await deliverQueued();

    // Assess
    expect(report.lost_keys).toEqual(expect.arrayContaining([header.key, medium.key, allsky.key, overwritten.key]));
    expect(report.reingested).toBeGreaterThanOrEqual(4);
    expect(report.prefixes.map((prefix) => prefix.prefix)).toEqual(["data/", "info-images/", "allsky/"]);
    expect(await findImage(database.db, base)).toMatchObject({ exposure_time: 30, jpg_medium_exists: true });
    expect(await deliveryRecord(medium.key)).toMatchObject({ etag: medium.eTag, notified_sequencer: expect.any(String) });
    expect(await deliveryRecord(overwritten.key)).toMatchObject({ etag: overwritten.eTag });
    expect(await deliveryRecord(allsky.key)).toMatchObject({ notified_sequencer: expect.any(String) });

    // The next run finds none of these lost; only the thumbnails they made, whose events this test does not deliver
    const again = await reconcile(ctx, { since: hourAgo(), dryRun: true, graceMs: 0 });
    expect(again.lost_keys.filter((key) => key.includes(site)).sort()).toEqual([`allsky/${site}-allsky-${today()}-00000001-EX11.jpg`, `data/${base}-EX11.jpg`]);
  });

  test("a run out of its time budget says it is incomplete, and how much it left", async () => {
    // Prepare
    await putObject(ctx, `data/${uniqueBase(uniqueSite())}-EX00.txt`, headerText("b"));

    // Act
    const report = await reconcile(ctx, { since: hourAgo(), dryRun: true, graceMs: 0, budgetMs: -1 });

    // Assess
    expect(report).toMatchObject({ complete: false, listed: 0 });
    expect(report.skipped_prefixes).toBeGreaterThan(0);
  });

  test("objects younger than the grace period are left alone", async () => {
    // Prepare
    const site = uniqueSite();
    const young = await putObject(ctx, `data/${uniqueBase(site)}-EX00.txt`, headerText("y"));

    // Act
    const report = await reconcile(ctx, { since: hourAgo(), dryRun: true, graceMs: 600_000 });

    // Assess
    expect(report.lost_keys).not.toContain(young.key);
  });
});
