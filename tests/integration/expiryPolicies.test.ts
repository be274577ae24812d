import { GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { sql } from "kysely";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { expireEntry, sweepDueExpirations } from "@archive/core/expirations/expirations";
import { dataExpiryOf, lifetimeOf, loadExpiryPolicies, POLICY_CACHE_MS } from "@archive/core/expirations/expiryPolicies";
import { expiryPlan } from "@archive/core/expirations/expiryPlan";
import { pinExposure, pinOf, UNPIN_GRACE_MS, unpinExposure } from "@archive/core/expirations/pins";
import { findImage } from "@archive/core/exposures/imageQueries";
import { recordFile } from "@archive/core/exposures/imageStore";
import { parseObjectKey } from "@archive/core/names/fileName";
import type { ArchiveContext } from "@archive/core/platform/context";
import { NotFoundError } from "@archive/core/platform/errors";
import { listKeys } from "@archive/core/platform/s3";
import { createHandler as createOperationsHandler } from "@archive/functions/apiOperations";
import { createHandler as createIngestData } from "@archive/functions/ingestData";
import { getEvent, invoke, uniqueBase, uniqueSite, useApiServices } from "./apiHarness";
import { lambdaContext, putObject, sqsBatchOf } from "../support/objectEvents";

const services = useApiServices();

const DAY_S = 86_400;
const entrySchema = z.object({ pk: z.string(), s3_directory: z.string(), expiration_timestamp_s: z.number() });

/** A clock fixed at `at`, on the file's services and database. */
const clockedAt = (at: Date): ArchiveContext => ({ ...services.ctx, clock: () => at });

async function entryOf(base: string): Promise<z.infer<typeof entrySchema> | undefined> {
  const { dynamo, tables } = services.ctx;
  const { Item } = await dynamo.send(new GetCommand({ TableName: tables.expirations, Key: { pk: base } }));
  return Item === undefined ? undefined : entrySchema.parse(Item);
}

async function putEntry(base: string, expiresAt: Date): Promise<void> {
  const { dynamo, tables } = services.ctx;
  await dynamo.send(
    new PutCommand({ TableName: tables.expirations, Item: { pk: base, s3_directory: "data", expiration_timestamp_s: Math.floor(expiresAt.getTime() / 1000) } }),
  );
}

/** An exposure's objects and row, as ingestion leaves them. */
async function storeExposure(base: string, type = "EP"): Promise<string[]> {
  const keys = [`data/${base}-${type}10.fits`, `data/${base}-${type}10.jpg`];
  for (const key of keys) {
    await putObject(services.ctx, key, `bytes of ${key}`);
    await recordFile(services.ctx.db, parseObjectKey(key));
  }
  return keys;
}

/** Ingests one small file of the exposure (a .png: logged and tracked for expiry, nothing read) arriving at `arrivedAt`. */
async function ingestArrival(ctx: ArchiveContext, base: string, type: string, arrivedAt: Date): Promise<void> {
  const object = await putObject(ctx, `data/${base}-${type}10.png`, "png", { eventTime: arrivedAt });
  const response = await createIngestData(ctx)(sqsBatchOf([object]), lambdaContext());
  expect(response?.batchItemFailures).toEqual([]);
}

describe("expiry policies (the expiry_policies table)", () => {
  it("are seeded with the lifetimes the code held: EP 7 days, EF 1 day, 5 minutes at tst, every other type kept", async () => {
    // Act
    const policies = await loadExpiryPolicies(services.ctx.db);

    // Assess
    const lifetime = (site: string, type: string) => lifetimeOf(policies, site, type);
    expect(lifetime("sro", "EP")).toBe(7 * DAY_S * 1000);
    expect(lifetime("sro", "ep")).toBe(7 * DAY_S * 1000);
    expect(lifetime("sro", "EF")).toBe(DAY_S * 1000);
    expect(lifetime("tst", "EP")).toBe(300_000);
    expect(lifetime("tst", "EF")).toBe(300_000);
    expect(lifetime("sro", "EX")).toBeUndefined();
    expect(lifetime("tst", "EX")).toBeUndefined();
  });

  it("give an ingested EF exposure one entry a day after its first file arrived, and an EX exposure none", async () => {
    // Prepare
    const site = uniqueSite();
    const ef = uniqueBase(site);
    const ex = uniqueBase(site);
    const arrived = new Date("2026-11-30T04:00:00Z");

    // Act
    await ingestArrival(services.ctx, ef, "EF", arrived);
    await ingestArrival(services.ctx, ex, "EX", arrived);

    // Assess
    expect(await entryOf(ef)).toEqual({ pk: ef, s3_directory: "data", expiration_timestamp_s: arrived.getTime() / 1000 + DAY_S });
    expect(await entryOf(ex)).toBeUndefined();
  });

  it("a changed row takes effect for the exposures arriving after it, once the process's cached copy is older than a minute", async () => {
    // Prepare: the policies are read (and cached) at t0
    const site = uniqueSite();
    const t0 = new Date(Date.now() + 10 * POLICY_CACHE_MS);
    const arrived = new Date("2026-11-30T05:00:00Z");
    expect(await dataExpiryOf(clockedAt(t0), { site, dataType: "EX" }, arrived)).toBeUndefined();
    await services.ctx.db.insertInto("expiry_policies").values({ site, data_type: "EX", lifetime_seconds: 600 }).execute();
    await services.ctx.db.insertInto("expiry_policies").values({ site, data_type: "EP", lifetime_seconds: null }).execute();

    // Act
    const cached = await dataExpiryOf(clockedAt(new Date(t0.getTime() + 10_000)), { site, dataType: "EX" }, arrived);
    const later = clockedAt(new Date(t0.getTime() + POLICY_CACHE_MS + 1000));
    const base = uniqueBase(site);
    const keptBase = uniqueBase(site);
    await ingestArrival(later, base, "EX", arrived);
    await ingestArrival(later, keptBase, "EP", arrived);

    // Assess: the site's own rows win over `*`, and its NULL keeps EP
    expect(cached).toBeUndefined();
    expect(await entryOf(base)).toEqual({ pk: base, s3_directory: "data", expiration_timestamp_s: arrived.getTime() / 1000 + 600 });
    expect(await entryOf(keptBase)).toBeUndefined();
  });

  it("refuses a lifetime that is not positive and a data type not in upper case", async () => {
    // Act
    const zero = await services.ctx.db
      .insertInto("expiry_policies")
      .values({ site: "abc", data_type: "EX", lifetime_seconds: 0 })
      .execute()
      .catch((error: unknown) => error);
    const lower = await sql`INSERT INTO expiry_policies VALUES ('abc', 'ep', 60)`.execute(services.ctx.db).catch((error: unknown) => error);

    // Assess
    expect(zero).toMatchObject({ message: expect.stringMatching(/check constraint/) });
    expect(lower).toMatchObject({ message: expect.stringMatching(/check constraint/) });
  });
});

describe("pins", () => {
  it("a pinned exposure survives its expiry by the stream (expireEntry), keeping its row and objects", async () => {
    // Prepare
    const base = uniqueBase(uniqueSite());
    const keys = await storeExposure(base);
    await pinExposure(services.ctx, base, { pinnedBy: "ada", note: "candidate supernova" });

    // Act
    const outcome = await expireEntry(services.ctx, { pk: base, s3_directory: "data", expiration_timestamp_s: 0 });

    // Assess
    expect(outcome).toEqual({ objectsDeleted: 0, kept: "pinned" });
    expect(await findImage(services.ctx.db, base)).toMatchObject({ fits_10_exists: true, jpg_medium_exists: true });
    expect(await listKeys(services.ctx, `data/${base}-`)).toEqual(keys);
  });

  it("a pinned exposure survives the sweep, whose entry goes; unpinned, it gets a new entry after the grace and then expires", async () => {
    // Prepare
    const site = uniqueSite();
    const base = uniqueBase(site);
    const keys = await storeExposure(base, "EP");
    const now = new Date();
    await putEntry(base, new Date(now.getTime() - 60_000));
    await pinExposure(services.ctx, base, { pinnedBy: "ada" });

    // Act
    const swept = await sweepDueExpirations(services.ctx, now);
    const keptRow = await findImage(services.ctx.db, base);
    const keptKeys = await listKeys(services.ctx, `data/${base}-`);
    const entryAfterSweep = await entryOf(base);
    const unpinned = await unpinExposure(clockedAt(now), base);
    const renewed = await entryOf(base);
    const dueAt = new Date(now.getTime() + UNPIN_GRACE_MS);
    const beforeGrace = await sweepDueExpirations(services.ctx, new Date(dueAt.getTime() - 1000));
    const afterGrace = await sweepDueExpirations(services.ctx, dueAt);

    // Assess
    expect(swept).toMatchObject({ kept: 1, failed: 0 });
    expect(keptRow).toBeDefined();
    expect(keptKeys).toEqual(keys);
    expect(entryAfterSweep).toBeUndefined();
    const dueSeconds = Math.floor(dueAt.getTime() / 1000);
    expect(unpinned).toEqual({ base_filename: base, expires_at: new Date(dueSeconds * 1000).toISOString(), expiry: "renewed" });
    expect(renewed).toEqual({ pk: base, s3_directory: "data", expiration_timestamp_s: dueSeconds });
    expect(beforeGrace.expired).toBe(0);
    expect(afterGrace).toMatchObject({ expired: 1, kept: 0, failed: 0 });
    expect(await findImage(services.ctx.db, base)).toBeUndefined();
    expect(await listKeys(services.ctx, `data/${base}-`)).toEqual([]);
    expect(await pinOf(services.ctx.db, base)).toBeUndefined();
  });

  it("unpinned before its expiry, an exposure keeps its entry and expires as scheduled", async () => {
    // Prepare
    const base = uniqueBase(uniqueSite());
    await storeExposure(base, "EF");
    const expiresAt = new Date(Date.now() + 3_600_000);
    await putEntry(base, expiresAt);
    await pinExposure(services.ctx, base, { pinnedBy: "ada" });

    // Act
    const unpinned = await unpinExposure(services.ctx, base);
    const result = await sweepDueExpirations(services.ctx, expiresAt);

    // Assess
    const seconds = Math.floor(expiresAt.getTime() / 1000);
    expect(unpinned).toEqual({ base_filename: base, expires_at: new Date(seconds * 1000).toISOString(), expiry: "scheduled" });
    expect(result).toMatchObject({ kept: 0, failed: 0 });
    expect(await findImage(services.ctx.db, base)).toBeUndefined();
  });

  it("unpinned, an exposure of a kept data type gets no entry; a lifetime shorter than the grace is its new expiry", async () => {
    // Prepare
    const kept = uniqueBase(uniqueSite());
    await storeExposure(kept, "EX");
    const test = `tst-kb001ms-20261130-${String(Math.floor(Math.random() * 1e8)).padStart(8, "0")}`;
    await storeExposure(test, "EP");
    for (const base of [kept, test]) await pinExposure(services.ctx, base, { pinnedBy: "ada" });
    const now = new Date();

    // Act
    const keptOutcome = await unpinExposure(clockedAt(now), kept);
    const testOutcome = await unpinExposure(clockedAt(now), test);

    // Assess
    expect(keptOutcome).toEqual({ base_filename: kept, expires_at: null, expiry: "kept" });
    expect(await entryOf(kept)).toBeUndefined();
    expect(testOutcome.expiry).toBe("renewed");
    expect((await entryOf(test))?.expiration_timestamp_s).toBe(Math.floor((now.getTime() + 300_000) / 1000));
  });

  it("pinning again keeps the first time and takes the new note; an exposure the archive does not hold cannot be pinned", async () => {
    // Prepare
    const base = uniqueBase(uniqueSite());
    await storeExposure(base);
    const first = await pinExposure(clockedAt(new Date("2026-11-30T10:00:00Z")), base, { pinnedBy: "ada", note: "one" });

    // Act
    const second = await pinExposure(clockedAt(new Date("2026-11-30T11:00:00Z")), base, { pinnedBy: "grace", note: "two" });
    const missing = await pinExposure(services.ctx, uniqueBase(uniqueSite()), { pinnedBy: "ada" }).catch((error: unknown) => error);
    const notPinned = await unpinExposure(services.ctx, uniqueBase(uniqueSite())).catch((error: unknown) => error);

    // Assess
    expect(first.pinned_at.toISOString()).toBe("2026-11-30T10:00:00.000Z");
    expect(second).toMatchObject({ base_filename: base, pinned_by: "grace", note: "two", pinned_at: first.pinned_at });
    expect(missing).toBeInstanceOf(NotFoundError);
    expect(notPinned).toBeInstanceOf(NotFoundError);
  });
});

describe("the dry-run plan", () => {
  it("lists the site's entries in the order they come due, pinned ones kept, then pins whose expiry has passed", async () => {
    // Prepare
    const site = uniqueSite();
    const [late, early, pinned, overdue, pinnedPast] = Array.from({ length: 5 }, () => uniqueBase(site));
    const other = uniqueBase(uniqueSite());
    const now = new Date();
    const at = (minutes: number) => new Date(now.getTime() + minutes * 60_000);
    for (const base of [late, early, pinned, overdue, pinnedPast]) await storeExposure(base ?? "");
    await putEntry(late ?? "", at(90));
    await putEntry(early ?? "", at(30));
    await putEntry(pinned ?? "", at(60));
    await putEntry(overdue ?? "", at(-5));
    await putEntry(other, at(10));
    await pinExposure(services.ctx, pinned ?? "", { pinnedBy: "ada", note: "keep" });
    await pinExposure(services.ctx, pinnedPast ?? "", { pinnedBy: "ada" });

    // Act
    const plan = await expiryPlan(services.ctx, { site, now });

    // Assess
    const iso = (date: Date) => new Date(Math.floor(date.getTime() / 1000) * 1000).toISOString();
    expect(plan).toMatchObject({ site, deletions: 3, pinned: 2 });
    expect(plan.scanned).toBeGreaterThanOrEqual(5);
    expect(plan.entries.map(({ base_filename, expires_at, due, action }) => ({ base_filename, expires_at, due, action }))).toEqual([
      { base_filename: overdue, expires_at: iso(at(-5)), due: true, action: "delete" },
      { base_filename: early, expires_at: iso(at(30)), due: false, action: "delete" },
      { base_filename: pinned, expires_at: iso(at(60)), due: false, action: "keep" },
      { base_filename: late, expires_at: iso(at(90)), due: false, action: "delete" },
      { base_filename: pinnedPast, expires_at: null, due: false, action: "keep" },
    ]);
    expect(plan.entries[2]?.pin).toMatchObject({ pinned_by: "ada", note: "keep" });
    expect(plan.entries[0]?.pin).toBeNull();
  });
});

describe("the expiry routes (operator only)", () => {
  /** What API Gateway passes apiOperations after the operator authorizer named `caller`. */
  async function call(method: string, path: string, options: { query?: Record<string, string>; body?: string; caller?: Record<string, string> } = {}) {
    const event = getEvent(path, options.query);
    event.requestContext = {
      ...event.requestContext,
      http: { ...event.requestContext.http, method },
      authorizer: { lambda: options.caller ?? { operator: "ada" } },
    };
    if (options.body !== undefined) {
      event.body = options.body;
      event.headers = { ...event.headers, "content-type": "application/json" };
    }
    return invoke(createOperationsHandler(services.ctx), event);
  }

  it("PUT /pin/{base_filename} pins as the calling operator, GET /expiry shows it kept, DELETE /pin unpins", async () => {
    // Prepare
    const site = uniqueSite();
    const base = uniqueBase(site);
    await storeExposure(base);
    await putEntry(base, new Date(Date.now() + 3_600_000));

    // Act
    const pinned = await call("PUT", `/pin/${base}`, { body: JSON.stringify({ note: "flare" }) });
    const plan = await call("GET", "/expiry", { query: { site } });
    const unpinned = await call("DELETE", `/pin/${base}`);
    const again = await call("DELETE", `/pin/${base}`);

    // Assess
    expect(pinned).toMatchObject({ status: 200, body: { base_filename: base, site, pinned_by: "ada", note: "flare" } });
    expect(plan).toMatchObject({ status: 200, body: { site, entries: [{ base_filename: base, action: "keep", pin: { pinned_by: "ada", note: "flare" } }] } });
    expect(unpinned).toMatchObject({ status: 200, body: { base_filename: base, expiry: "scheduled" } });
    expect(again).toMatchObject({ status: 404 });
  });

  it("PUT without a body pins with no note; a bad base filename is 400, a body that is not JSON 415, a site token 403", async () => {
    // Prepare
    const base = uniqueBase(uniqueSite());
    await storeExposure(base);

    // Act
    const noBody = await call("PUT", `/pin/${base}`);
    const badName = await call("PUT", "/pin/not-a-base");
    const notJson = await invoke(
      createOperationsHandler(services.ctx),
      (() => {
        const event = getEvent(`/pin/${base}`);
        event.requestContext = { ...event.requestContext, http: { ...event.requestContext.http, method: "PUT" }, authorizer: { lambda: { operator: "ada" } } };
        event.body = "note=x";
        event.headers = { ...event.headers, "content-type": "text/plain" };
        return event;
      })(),
    );
    const siteCaller = await call("DELETE", `/pin/${base}`, { caller: { site: "sro" } });
    const badSite = await call("GET", "/expiry", { query: { site: "no/site" } });

    // Assess
    expect(noBody).toMatchObject({ status: 200, body: { base_filename: base, note: null } });
    expect(badName).toMatchObject({ status: 400, body: { field: "base_filename" } });
    expect(notJson.status).toBe(415);
    expect(siteCaller.status).toBe(403);
    expect(badSite).toMatchObject({ status: 400, body: { field: "site" } });
    expect(await pinOf(services.ctx.db, base)).toBeDefined();
  });
});

