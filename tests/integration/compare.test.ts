import { execFile } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import { promisify } from "node:util";
import { CreateTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DeleteCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { sql, type Kysely } from "kysely";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compareShadow, formatShadowComparison, parseSince, type ShadowTables } from "@archive/core/cutover/shadowComparison";
import type { Database } from "@archive/core/exposures/imagesTable";
import { assignChannel } from "@archive/core/infoImages/infoChannels";
import type { ArchiveContext } from "@archive/core/platform/context";
import { migrateToLatest } from "@archive/core/platform/migrate";
import { createDb } from "@archive/core/platform/postgres";
import { tables, type TableName } from "@archive/core/platform/tables";
import { createHandler as createIngestData } from "@archive/functions/ingestData";
import { createHandler as createIngestInfoImages } from "@archive/functions/ingestInfoImages";
import { createTableInput } from "@archive/local/dynamoServer";
import { shadowTables } from "../../scripts/cutoverStage";
import { SHADOW_SCHEMA, stageConfig } from "../../stacks/stageConfig";
import { useTestDatabase } from "../support/database";
import { buildFitsHeader, type CardSpec } from "../support/fits";
import { lambdaContext, putObject, sqsBatchOf, type StoredObject } from "../support/objectEvents";
import { createProductionImagesTable, oldServiceRecordsFile, oldServiceRecordsHeader } from "../support/replacedService";
import {
  oldIngesterLogsUpload,
  oldIngesterRecordsInfoImage,
  oldIngesterTracksExpiration,
  oldRouteAssignsChannel,
} from "../support/replacedServiceItems";
import { useServices } from "../support/services";

/*
 * A stage in shadow mode beside the running system: the old service's writes (tests/support/replacedService*.ts) go
 * to a live schema with production's `images` shape and to live tables; the archive's real ingest handlers, bound to
 * a shadow context, write the shadow schema (migrated as a shadow stage migrates it) and shadow tables. Each test
 * builds its own pair, so what one compares is only its own.
 */
const database = useTestDatabase();
const services = useServices({ database });
const SHARED_TABLES = ["uploadLog", "infoImages", "expirations"] as const satisfies readonly TableName[];
const pools: Kysely<Database>[] = [];

afterAll(async () => {
  await Promise.all(pools.map((pool) => pool.destroy()));
});

interface SideBySide {
  /** The running system's world: its tables and schema. */
  live: ArchiveContext;
  /** The archive in shadow mode: shadow tables and schema, no notices. */
  shadow: ArchiveContext;
  targets: ShadowTables;
  ingestData: ReturnType<typeof createIngestData>;
  ingestInfoImages: ReturnType<typeof createIngestInfoImages>;
}

async function sideBySide(): Promise<SideBySide> {
  const id = randomBytes(4).toString("hex");
  const names = (side: string) => ({
    uploadLog: `${side}-${id}-${tables.uploadLog.baseName}`,
    infoImages: `${side}-${id}-${tables.infoImages.baseName}`,
    expirations: `${side}-${id}-${tables.expirations.baseName}`,
  });
  const [liveTables, shadowNames] = [names("live"), names("shadow")];
  const client = new DynamoDBClient({ region: "us-east-1", endpoint: services.dynamo.endpoint, credentials: { accessKeyId: "l", secretAccessKey: "l" } });
  for (const name of SHARED_TABLES) {
    await client.send(new CreateTableCommand(createTableInput(liveTables[name], tables[name])));
    await client.send(new CreateTableCommand(createTableInput(shadowNames[name], tables[name])));
  }
  client.destroy();
  const schemas = { live: `live_${id}`, shadow: `shadow_${id}` };
  await sql`CREATE SCHEMA ${sql.id(schemas.live)}`.execute(database.db);
  const liveDb = createDb(database.url, { schema: schemas.live, poolSize: 2 });
  const shadowDb = createDb(database.url, { schema: schemas.shadow, poolSize: 2 });
  pools.push(liveDb, shadowDb);
  await createProductionImagesTable(liveDb);
  await migrateToLatest(shadowDb, undefined, schemas.shadow);
  const settings = (side: ReturnType<typeof names>) => ({
    UPLOAD_LOG_TABLE: side.uploadLog,
    INFO_IMAGES_TABLE: side.infoImages,
    EXPIRATION_TABLE: side.expirations,
  });
  const live = { ...services.contextWith(settings(liveTables)), db: liveDb };
  const shadow = { ...services.contextWith({ ...settings(shadowNames), SEND_NOTICES: "false", DATABASE_SCHEMA: schemas.shadow }), db: shadowDb };
  const pair = (name: (typeof SHARED_TABLES)[number]) => ({ live: liveTables[name], shadow: shadowNames[name] });
  return {
    live,
    shadow,
    targets: { uploadLog: pair("uploadLog"), infoImages: pair("infoImages"), expirations: pair("expirations"), schemas },
    ingestData: createIngestData(shadow),
    ingestInfoImages: createIngestInfoImages(shadow),
  };
}

function headerCards(base: string, extra: readonly CardSpec[] = []): CardSpec[] {
  const [site = "", instrument = ""] = base.split("-");
  return [
    ["SIMPLE", true],
    // Captured now, so within the comparison's window (it compares the exposures captured since a time).
    ["DATE-OBS", new Date().toISOString().slice(0, 23)],
    ["DAY-OBS", "20240311"],
    ["SITEID", site],
    ["INSTRUME", instrument],
    ["ORIGNAME", `${base}-00.fits`],
    ["EXPTIME", 30],
    ["FILTER", "ha"],
    ["CRVAL1", 187.5],
    ["CRVAL2", -30.25],
    ["ALTITUDE", 55.5],
    ["AZIMUTH", 181.25],
    ["AIRMASS", 1.2],
    ["USERNAME", "Ada Lovelace"],
    ["USERID", "google-oauth2|1234"],
    ["SMARTSTK", "no"],
    ["SSTKNUM", "0"],
    ...extra,
  ];
}

async function jpg(): Promise<Buffer> {
  return sharp({ create: { width: 90, height: 60, channels: 3, background: "#305070" } }).jpeg().toBuffer();
}

const SEVEN_DAYS_S = 7 * 24 * 3600;

interface Exposure {
  objects: StoredObject[];
  /** The old service's upload-log times (whole seconds) of the txt and the jpg, one second apart. */
  loggedAt: number[];
}

/**
 * One EP exposure (header txt, medium jpg) through both systems: the old service's header and file writes, its upload
 * log entries (a second apart, as two invocations log them) and its expiration entry; the archive's ingestData on the
 * same S3 events.
 */
async function exposureThroughBoth(world: SideBySide, base: string, cards = headerCards(base)): Promise<Exposure> {
  const txt = await putObject(services.ctx, `data/${base}-EP00.txt`, buildFitsHeader(cards));
  const medium = await putObject(services.ctx, `data/${base}-EP10.jpg`, await jpg());
  const now = new Date();
  await oldServiceRecordsHeader(world.live.db, base, "EP", Buffer.from(buildFitsHeader(cards)));
  await oldServiceRecordsFile(world.live.db, base, "EP", "10", "jpg", now);
  const loggedAt = [Math.trunc(now.getTime() / 1000), Math.trunc(now.getTime() / 1000) + 1];
  await oldIngesterLogsUpload(world.live, txt.key, loggedAt[0] ?? 0, txt.size);
  await oldIngesterLogsUpload(world.live, medium.key, loggedAt[1] ?? 0, medium.size);
  await oldIngesterTracksExpiration(world.live, base, SEVEN_DAYS_S, now);
  const result = await world.ingestData(sqsBatchOf([txt, medium]), lambdaContext());
  expect(result?.batchItemFailures).toEqual([]);
  return { objects: [txt, medium], loggedAt };
}

/** One info image on a channel, announced by the old upload route, through both systems. */
async function infoImageThroughBoth(world: SideBySide, base: string, channel: 1 | 2 | 3): Promise<StoredObject> {
  const [site = ""] = base.split("-");
  await oldRouteAssignsChannel(world.live, `${base}-EX10.jpg`, channel);
  await assignChannel(world.shadow, site, channel, base);
  const medium = await putObject(services.ctx, `info-images/${base}-EX10.jpg`, await jpg());
  await oldIngesterRecordsInfoImage(world.live, medium.key, new Date());
  const result = await world.ingestInfoImages(sqsBatchOf([medium]), lambdaContext());
  expect(result?.batchItemFailures).toEqual([]);
  return medium;
}

/** A 3-letter site: the live table's varchar(29) holds `{site}-kb001ms-{date}-{counter}` only with one that short. */
const uniqueSite = () => `c${randomBytes(1).toString("hex")}`;
const uniqueBase = (site: string) => `${site}-kb001ms-20240312-${String(randomInt(0, 99_999_999)).padStart(8, "0")}`;

const sinceAMinuteAgo = () => ({ since: new Date(Date.now() - 60_000), now: new Date(Date.now() + 1000) });

describe("the shadow comparison", () => {
  it("finds no difference when both systems ingested the same exposure and info image", async () => {
    // Prepare
    const world = await sideBySide();
    const site = uniqueSite();
    const base = uniqueBase(site);
    await exposureThroughBoth(world, base);
    await infoImageThroughBoth(world, uniqueBase(site), 2);

    // Act
    const result = await compareShadow(world.shadow, world.targets, sinceAMinuteAgo());

    // Assess
    expect(result.differences).toEqual([]);
    expect(result.tables).toEqual([
      { table: "images", compared: 1, differing: 0, onlyLive: 0, onlyShadow: 0 },
      { table: "recent-uploads-log", compared: 3, differing: 0, onlyLive: 0, onlyShadow: 0 },
      { table: "info-images", compared: 1, differing: 0, onlyLive: 0, onlyShadow: 0 },
      { table: "data-expiration-tracker", compared: 2, differing: 0, onlyLive: 0, onlyShadow: 0 },
    ]);
    // The archive logs and expires info images too; the old ingester did neither.
    expect(result.explained.map((d) => `${d.table} ${d.field}`)).toEqual(["recent-uploads-log (item)", "data-expiration-tracker (item)"]);
    expect(formatShadowComparison(result)).toMatch(/\nSAME: no differences$/);
  });

  it("reports a changed column, a changed header card and a row only one side has", async () => {
    // Prepare
    const world = await sideBySide();
    const site = uniqueSite();
    const [changed, onlyLive] = [uniqueBase(site), uniqueBase(site)];
    await exposureThroughBoth(world, changed);
    const cards = headerCards(onlyLive);
    await oldServiceRecordsHeader(world.live.db, onlyLive, "EP", Buffer.from(buildFitsHeader(cards)));
    await sql`UPDATE images SET filter_used = 'r', header = replace(header, '"EXPTIME": "30"', '"EXPTIME": "31"') WHERE base_filename = ${changed}`.execute(world.live.db);

    // Act
    const result = await compareShadow(world.shadow, world.targets, sinceAMinuteAgo());

    // Assess
    const images = result.differences.filter((d) => d.table === "images");
    expect(images).toHaveLength(3);
    expect(images).toEqual(
      expect.arrayContaining([
        { table: "images", key: changed, field: "header.EXPTIME", live: "31", shadow: "30" },
        { table: "images", key: changed, field: "filter_used", live: "r", shadow: "ha" },
        { table: "images", key: onlyLive, field: "(row)", live: 1, shadow: undefined },
      ]),
    );
    expect(result.tables[0]).toEqual({ table: "images", compared: 2, differing: 2, onlyLive: 1, onlyShadow: 0 });
  });

  it("takes right ascensions within the tolerance as equal, and lists a RAHRS row in hours as the contract's difference", async () => {
    // Prepare: one header without CRVAL1 (the old service stored its RAHRS hours), one a hair apart
    const world = await sideBySide();
    const [hours, close] = [uniqueBase(uniqueSite()), uniqueBase(uniqueSite())];
    const withoutCrval1 = headerCards(hours).filter((card) => card[0] !== "CRVAL1");
    await exposureThroughBoth(world, hours, [...withoutCrval1, ["RAHRS", 12.5]]);
    await exposureThroughBoth(world, close);
    await sql`UPDATE images SET right_ascension = right_ascension + 1e-9 WHERE base_filename = ${close}`.execute(world.live.db);

    // Act
    const result = await compareShadow(world.shadow, world.targets, sinceAMinuteAgo());

    // Assess
    expect(result.differences.filter((d) => d.table === "images")).toEqual([]);
    expect(result.explained).toContainEqual(expect.objectContaining({ table: "images", key: hours, field: "right_ascension", live: 12.5, shadow: 187.5 }));
  });

  it("reports upload-log entries, expiration entries and channel items that differ or that one side lacks", async () => {
    // Prepare
    const world = await sideBySide();
    const site = uniqueSite();
    const [exposure, info] = [uniqueBase(site), uniqueBase(site)];
    const { objects, loggedAt } = await exposureThroughBoth(world, exposure);
    await infoImageThroughBoth(world, info, 3);
    const live = world.live;
    await live.dynamo.send(new DeleteCommand({ TableName: world.targets.expirations.shadow, Key: { pk: exposure } }));
    await live.dynamo.send(
      new UpdateCommand({ TableName: world.targets.infoImages.live, Key: { pk: `${site}#3` }, UpdateExpression: "SET data_type = :t", ExpressionAttributeValues: { ":t": "EF" } }),
    );
    await oldIngesterLogsUpload(live, `data/${exposure}-EP01.fits.bz2`, (loggedAt[1] ?? 0) + 1, 4096);
    await live.dynamo.send(
      new UpdateCommand({
        TableName: world.targets.uploadLog.live,
        Key: { site, upload_timestamp_s: loggedAt[0] },
        UpdateExpression: "SET size_bytes = :size",
        ConditionExpression: "attribute_exists(site)",
        ExpressionAttributeValues: { ":size": 1 },
      }),
    );

    // Act
    const result = await compareShadow(world.shadow, world.targets, sinceAMinuteAgo());

    // Assess
    const items = result.differences.filter((d) => d.table !== "images").map((d) => [d.table, d.key, d.field]);
    expect(items).toEqual(
      expect.arrayContaining([
        ["recent-uploads-log", `${site} data/${exposure}-EP01.fits.bz2`, "(item)"],
        ["info-images", `${site}#3`, "data_type"],
        ["data-expiration-tracker", exposure, "(item)"],
        ["recent-uploads-log", `${site} ${objects[0]?.key}`, "size_bytes"],
      ]),
    );
    expect(result.tables.find((t) => t.table === "data-expiration-tracker")).toMatchObject({ onlyLive: 1, onlyShadow: 0 });
    expect(formatShadowComparison(result)).toMatch(/\nDIFFERENT: \d+ differences$/);
  });

  it("does not count an item one side's TTL already removed", async () => {
    // Prepare: the old service's expiration entry of an exposure whose expiry is past, which the shadow lacks
    const world = await sideBySide();
    const base = uniqueBase(uniqueSite());
    await exposureThroughBoth(world, base);
    await world.live.dynamo.send(new DeleteCommand({ TableName: world.targets.expirations.live, Key: { pk: base } }));
    await world.shadow.dynamo.send(
      new UpdateCommand({ TableName: world.targets.expirations.shadow, Key: { pk: base }, UpdateExpression: "SET expiration_timestamp_s = :past", ExpressionAttributeValues: { ":past": 1 } }),
    );

    // Act
    const result = await compareShadow(world.shadow, world.targets, sinceAMinuteAgo());

    // Assess
    expect(result.differences.filter((d) => d.table === "data-expiration-tracker")).toEqual([]);
  });
});

describe("npm run compare", () => {
  let world: SideBySide;
  beforeAll(async () => {
    world = await sideBySide();
    // The stage "alice" creates its own live tables and shadow copies: empty ones here.
    const client = new DynamoDBClient({ region: "us-east-1", endpoint: services.dynamo.endpoint, credentials: { accessKeyId: "l", secretAccessKey: "l" } });
    const stageTables = shadowTables(stageConfig("alice"));
    for (const name of SHARED_TABLES) {
      for (const tableName of [stageTables[name].live, stageTables[name].shadow]) {
        await client.send(new CreateTableCommand(createTableInput(tableName, tables[name])));
      }
    }
    client.destroy();
  });

  const run = (args: string[]) =>
    promisify(execFile)(process.execPath, ["--import", "tsx", "scripts/compare.ts", ...args], {
      env: {
        PATH: process.env.PATH ?? "",
        AWS_ACCESS_KEY_ID: "local",
        AWS_SECRET_ACCESS_KEY: "local",
        AWS_REGION: "us-east-1",
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
        DATABASE_URL: database.url,
        DYNAMODB_ENDPOINT: services.dynamo.endpoint,
      },
    }).then(
      ({ stdout }) => ({ code: 0, stdout, stderr: "" }),
      (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
    );

  it("names the stage's live and shadow tables and schemas as the stacks deploy them", () => {
    expect(shadowTables(stageConfig("prod"))).toEqual({
      uploadLog: { live: "recent-uploads-log", shadow: "prod-data-archive-shadow-recent-uploads-log" },
      infoImages: { live: "info-images", shadow: "prod-data-archive-shadow-info-images" },
      expirations: { live: "data-expiration-tracker", shadow: "prod-data-archive-shadow-data-expiration-tracker" },
      schemas: { live: "public", shadow: SHADOW_SCHEMA },
    });
  });

  it("prints the summary and every difference, and exits 1 when there is one, 2 on a bad --since", async () => {
    // Prepare: a row only the old service wrote
    const base = uniqueBase(uniqueSite());
    await oldServiceRecordsHeader(world.live.db, base, "EP", Buffer.from(buildFitsHeader(headerCards(base))));

    // Act
    const result = await run(["--stage", "alice", "--since", "1h", "--live-schema", world.targets.schemas.live, "--shadow-schema", world.targets.schemas.shadow]);
    const usage = await run(["--stage", "alice", "--since", "yesterday"]);

    // Assess
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^images +1 +1 +1 +0$/m);
    expect(result.stdout).toContain(`images  ${base}  (row)  live=1  shadow=(absent)`);
    expect(result.stdout).toMatch(/\nDIFFERENT: 1 difference\n$/);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("--since must be a duration");
  });

  it("exits 0 when the two sides agree", async () => {
    // Act: nothing was captured in the future
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const result = await run(["--stage", "alice", "--since", future, "--live-schema", world.targets.schemas.live, "--shadow-schema", world.targets.schemas.shadow]);

    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/\nSAME: no differences\n$/);
  });
});

describe("--since", () => {
  it("takes a duration back from now or an ISO time", () => {
    const now = new Date("2024-03-12T12:00:00.000Z");

    expect(parseSince("24h", now).toISOString()).toBe("2024-03-11T12:00:00.000Z");
    expect(parseSince("90m", now).toISOString()).toBe("2024-03-12T10:30:00.000Z");
    expect(parseSince("2d", now).toISOString()).toBe("2024-03-10T12:00:00.000Z");
    expect(parseSince("2024-03-12T00:00:00Z", now).toISOString()).toBe("2024-03-12T00:00:00.000Z");
    expect(() => parseSince("yesterday", now)).toThrow(/--since must be a duration/);
  });
});
