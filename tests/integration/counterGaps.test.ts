import { GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { handleApiRequest, type ApiRequest } from "@archive/core/api/handleRequest";
import { operationRoutes } from "@archive/core/api/operationRoutes";
import { hashToken, identifyCaller, issueOperatorToken, issueToken, listTokens, revokeToken } from "@archive/core/api/siteTokens";
import { uploadRoutes } from "@archive/core/api/uploadRoutes";
import { COUNTER_GAPS_METRIC, counterGaps, previousUtcDay } from "@archive/core/exposures/counterGaps";
import { recordFile, recordHeader } from "@archive/core/exposures/imageStore";
import type { ImageHeaderFields } from "@archive/core/exposures/imagesTable";
import { parseFileName } from "@archive/core/names/fileName";
import type { ArchiveContext } from "@archive/core/platform/context";
import { createHandler as createOperationsHandler } from "@archive/functions/apiOperations";
import { createHandler as createAuthorizerHandler } from "@archive/functions/authorizer";
import { createHandler as createCountHandler } from "@archive/functions/countCounterGaps";
import { authorizerContextOf, callerFromAuthorizerContext, type HttpApiEvent } from "@archive/functions/lib/http";
import authorizerFixture from "../fixtures/apigw/authorizer-request.json";
import { getEvent, invoke, lambdaContext, runTokensScript, uniqueSite, useApiServices } from "./apiHarness";

const services = useApiServices();

const DAY = "20220629";
const errorBodySchema = z.object({ error: z.string(), message: z.string(), field: z.string().optional() });

/** An exposure's row as ingestion leaves it: its header (captured at `capture`), or only a file when there is none. */
async function exposure(base: string, capture: string | null): Promise<void> {
  if (capture === null) {
    await recordFile(services.ctx.db, parseFileName(`${base}-EX10.jpg`), new Date("2022-06-29T09:00:00.000Z"));
    return;
  }
  const date = new Date(capture);
  const fields: ImageHeaderFields = {
    right_ascension: null,
    declination: null,
    altitude: null,
    azimuth: null,
    filter_used: "r",
    airmass: null,
    exposure_time: 30,
    user_id: null,
    username: null,
    capture_date: date,
    sort_date: date,
    header: JSON.stringify({ "DATE-OBS": capture }),
  };
  await recordHeader(services.ctx.db, parseFileName(`${base}-EX00.txt`), fields);
}

const base = (site: string, instrument: string, day: string, counter: number) =>
  `${site}-${instrument}-${day}-${String(counter).padStart(8, "0")}`;

/**
 * A site's night of 2022-06-29 with holes in two instruments' counters, and what must not leak in: the same counters
 * on the next day, on another site, and an exposure of that day captured past midnight UTC.
 */
async function seedNight(site: string, otherSite: string): Promise<void> {
  const kb = [10440, 10441, 10442, 10445, 10446, 10447, 10448, 10449, 10451, 10452, 10453, 10454, 10455, 10456, 10457, 10458, 10459];
  for (const [index, counter] of kb.entries()) {
    await exposure(base(site, "kb001ms", DAY, counter), `2022-06-29T0${Math.floor(index / 4) + 2}:${String((index % 4) * 10).padStart(2, "0")}:00.000Z`);
  }
  // Captured after midnight UTC, named for the night it belongs to.
  await exposure(base(site, "kb001ms", DAY, 10460), "2022-06-30T01:15:00.000Z");
  // A row without a header yet (a jpg first): dated by its arrival, still that day's exposure.
  await exposure(base(site, "sq_02", DAY, 7), null);
  for (const counter of [3, 4, 9, 10, 11]) await exposure(base(site, "sq_02", DAY, counter), "2022-06-29T03:00:00.000Z");
  // The next day's counters fill no hole of this one, nor does another site's.
  for (const counter of [10443, 10444, 10450]) await exposure(base(site, "kb001ms", "20220630", counter), "2022-06-29T23:30:00.000Z");
  for (const counter of [10443, 10444, 10450, 5, 6]) await exposure(base(otherSite, "kb001ms", DAY, counter), "2022-06-29T04:00:00.000Z");
  await exposure(base(otherSite, "sq_02", DAY, 8), "2022-06-29T04:00:00.000Z");
}

let site: string;
let otherSite: string;
beforeAll(async () => {
  site = uniqueSite();
  otherSite = uniqueSite();
  await seedNight(site, otherSite);
});

/** What API Gateway does for an operations route: the operator authorizer on the request, then apiOperations. */
async function getGaps(path: string, query: Record<string, string>, authorization?: string, ctx: ArchiveContext = services.ctx) {
  const headers: Record<string, string> = authorization ? { authorization } : {};
  const authorizerEvent = { ...authorizerFixture, type: "REQUEST" as const, cookies: [], headers, identitySource: [], routeKey: `GET ${path}` };
  const decision = await createAuthorizerHandler(ctx)(authorizerEvent, lambdaContext);
  expect(decision.isAuthorized).toBe(true);
  const event: HttpApiEvent = getEvent(path, query);
  event.headers = { ...event.headers, ...headers };
  event.requestContext = { ...event.requestContext, authorizer: { lambda: decision.context } };
  return invoke(createOperationsHandler(ctx), event);
}

async function operatorToken(name = "ada"): Promise<string> {
  return `Bearer ${(await issueOperatorToken(services.ctx, name, services.ctx.clock())).token}`;
}

describe("GET /gaps/{site}?day=YYYYMMDD", () => {
  it("lists each instrument's missing counter ranges of the day, between its lowest and highest counter", async () => {
    // Act
    const reply = await getGaps(`/gaps/${site}`, { day: DAY }, await operatorToken());

    // Assess
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({
      site,
      day: DAY,
      instruments: [
        {
          instrument: "kb001ms",
          first: 10440,
          last: 10460,
          exposures: 18,
          missing: [
            { from: 10443, to: 10444 },
            { from: 10450, to: 10450 },
          ],
        },
        { instrument: "sq_02", first: 3, last: 11, exposures: 6, missing: [{ from: 5, to: 6 }, { from: 8, to: 8 }] },
      ],
    });
  });

  it("keeps each site's counters to itself", async () => {
    const gaps = await counterGaps(services.ctx.db, otherSite, DAY);

    expect(gaps.instruments).toEqual([
      { instrument: "kb001ms", first: 5, last: 10450, exposures: 5, missing: [{ from: 7, to: 10442 }, { from: 10445, to: 10449 }] },
      { instrument: "sq_02", first: 8, last: 8, exposures: 1, missing: [] },
    ]);
  });

  it("answers a day without exposures with no instruments", async () => {
    expect(await counterGaps(services.ctx.db, site, "20220701")).toEqual({ site, day: "20220701", instruments: [] });
  });

  it.each([
    [{ day: "2022069" }, "day", /8 digits/],
    [{ day: "2022-06-29" }, "day", /8 digits/],
    [{ day: "20221340" }, "day", /calendar date/],
    [{}, "day", /required/],
  ])("refuses the query %j with a 400 naming %s", async (query, field, message) => {
    const reply = await getGaps(`/gaps/${site}`, query, await operatorToken());

    expect(reply.status).toBe(400);
    expect(errorBodySchema.parse(reply.body)).toMatchObject({ error: "invalid_input", field, message: expect.stringMatching(message) });
  });

  it.each(["toolongsite", "s-1", "ab"])("refuses the site %s with a 400 naming site", async (badSite) => {
    const reply = await getGaps(`/gaps/${badSite}`, { day: DAY }, await operatorToken());

    expect(reply.status).toBe(400);
    expect(errorBodySchema.parse(reply.body)).toMatchObject({ error: "invalid_input", field: "site" });
  });
});

describe("operator tokens on an operations route", () => {
  /** Core's handleApiRequest with the caller the authorizer names for this Authorization header, as its context carries it. */
  async function asAuthorized(authorization: string | undefined, ctx: ArchiveContext = services.ctx) {
    const caller = callerFromAuthorizerContext(authorizerContextOf(await identifyCaller(ctx, authorization)));
    const request: ApiRequest = {
      method: "GET",
      path: `/gaps/${site}`,
      query: { day: DAY },
      headers: authorization ? { authorization } : {},
      body: undefined,
      caller,
      requestId: "operator-matrix",
    };
    return handleApiRequest(ctx, operationRoutes, request);
  }

  it("none 401, a site token 403, a revoked operator token 401, an operator token 200", async () => {
    // Prepare
    const siteToken = `Bearer ${(await issueToken(services.ctx, site, services.ctx.clock())).token}`;
    const revoked = await issueOperatorToken(services.ctx, "grace", services.ctx.clock());
    await revokeToken(services.ctx, revoked.token, services.ctx.clock());
    const operator = await operatorToken("ada");

    // Act
    const statuses = {
      none: (await asAuthorized(undefined)).status,
      site: (await asAuthorized(siteToken)).status,
      revokedOperator: (await asAuthorized(`Bearer ${revoked.token}`)).status,
      operator: (await asAuthorized(operator)).status,
    };

    // Assess
    expect(statuses).toEqual({ none: 401, site: 403, revokedOperator: 401, operator: 200 });
  });

  it("answers refusals as the API's JSON errors, through the authorizer and the function as API Gateway runs them", async () => {
    // Prepare
    const siteToken = `Bearer ${(await issueToken(services.ctx, site, services.ctx.clock())).token}`;

    // Act
    const none = await getGaps(`/gaps/${site}`, { day: DAY });
    const asSite = await getGaps(`/gaps/${site}`, { day: DAY }, siteToken);
    const malformed = await getGaps(`/gaps/${site}`, { day: DAY }, "Token x");

    // Assess
    expect(none.status).toBe(401);
    expect(errorBodySchema.parse(none.body)).toMatchObject({ error: "unauthorized", message: expect.stringMatching(/operator token/) });
    expect(asSite.status).toBe(403);
    expect(errorBodySchema.parse(asSite.body)).toMatchObject({ error: "forbidden" });
    expect(malformed.status).toBe(401);
  });

  it("refuses a request without a token even on a stage that allows anonymous uploads", async () => {
    const reply = await asAuthorized(undefined, services.contextWith({ ALLOW_ANONYMOUS_UPLOADS: "true" }));

    expect(reply.status).toBe(401);
  });

  it("is open where no authorizer ran (the local archive's server)", async () => {
    const reply = await handleApiRequest(services.ctx, operationRoutes, {
      method: "GET",
      path: `/gaps/${site}/`,
      query: { day: DAY },
      headers: {},
      body: undefined,
      requestId: "local-1",
    });

    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toMatchObject({ site, day: DAY });
  });

  it("never lets an operator token upload: it is not a site token", async () => {
    // Prepare
    const operator = await operatorToken("ada");
    const caller = await identifyCaller(services.ctx, operator);

    // Act
    const reply = await handleApiRequest(services.ctx, uploadRoutes, {
      method: "POST",
      path: "/upload",
      query: {},
      headers: { authorization: operator, "content-type": "application/json" },
      body: JSON.stringify({ object_name: `${base(site, "kb001ms", DAY, 1)}-EX10.jpg` }),
      caller,
      requestId: "operator-upload",
    });

    // Assess
    expect(caller).toEqual({ kind: "operator", operator: "ada" });
    expect(reply.status).toBe(403);
  });
});

describe("the token table with operator tokens", () => {
  it("stores an operator token only as its hash, with its kind and name and no site", async () => {
    // Prepare
    const issued = await issueOperatorToken(services.ctx, "ops-bot@example.org", new Date("2024-03-12T09:00:00.000Z"));

    // Act
    const stored = await services.ctx.dynamo.send(
      new GetCommand({ TableName: services.dynamo.tableNames.siteTokens, Key: { token_hash: hashToken(issued.token) } }),
    );

    // Assess
    expect(stored.Item).toEqual({
      token_hash: issued.tokenHash,
      kind: "operator",
      operator: "ops-bot@example.org",
      issued_at: "2024-03-12T09:00:00.000Z",
    });
    expect(await listTokens(services.ctx)).toEqual(
      expect.arrayContaining([{ kind: "operator", operator: "ops-bot@example.org", tokenHash: issued.tokenHash, issuedAt: "2024-03-12T09:00:00.000Z", revokedAt: null }]),
    );
  });

  it("keeps operator tokens out of a site's tokens, and reads an item without kind as a site token", async () => {
    // Prepare: a site token as items were written before operator tokens existed
    const tokenSite = uniqueSite();
    await services.ctx.dynamo.send(
      new PutCommand({
        TableName: services.dynamo.tableNames.siteTokens,
        Item: { token_hash: hashToken(`legacy-${tokenSite}`), site: tokenSite, issued_at: "2024-01-01T00:00:00.000Z" },
      }),
    );
    await issueOperatorToken(services.ctx, tokenSite, services.ctx.clock());

    // Act
    const listed = await listTokens(services.ctx, tokenSite);
    const caller = await identifyCaller(services.ctx, `Bearer legacy-${tokenSite}`);

    // Assess
    expect(listed).toEqual([
      { kind: "site", site: tokenSite, tokenHash: hashToken(`legacy-${tokenSite}`), issuedAt: "2024-01-01T00:00:00.000Z", revokedAt: null },
    ]);
    expect(caller).toEqual({ kind: "site", site: tokenSite });
  });

  it("refuses an operator name with spaces or control characters", async () => {
    await expect(issueOperatorToken(services.ctx, "ada lovelace", services.ctx.clock())).rejects.toMatchObject({ field: "operator" });
  });

  it("npm run tokens -- issue-operator, list and revoke work on operator tokens", async () => {
    // Prepare
    const tokens = (...args: string[]) => runTokensScript(services, args);

    // Act
    const issued = await tokens("issue-operator", "linus");
    const token = /token \(shown once, give it to the operator\): (\S+)/.exec(issued)?.[1] ?? "";
    const listed = await tokens("list");
    const revoked = await tokens("revoke", token);

    // Assess
    expect(await identifyCaller(services.ctx, `Bearer ${token}`)).toEqual({ kind: "unauthenticated", reason: "the operator token has been revoked" });
    expect(listed).toContain("operator tokens:");
    expect(listed).toMatch(new RegExp(`^operator linus\t${hashToken(token)}\tissued \\S+\tactive$`, "m"));
    expect(revoked).toMatch(new RegExp(`^operator linus\t${hashToken(token)}\tissued \\S+\trevoked \\S+$`, "m"));
  });
});

describe("the daily CounterGaps metric", () => {
  it("publishes the previous UTC day's missing exposures per site present that day", async () => {
    // Prepare: metrics on, written to the console the test reads; the schedule fires at 12:00 UTC the next day
    vi.stubEnv("POWERTOOLS_METRICS_DISABLED", "false");
    vi.stubEnv("POWERTOOLS_DEV", "true");
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((line: unknown) => void lines.push(String(line)));
    const ctx: ArchiveContext = { ...services.contextWith({}), clock: () => new Date("2022-06-30T12:00:00.000Z") };

    // Act
    const counted = await createCountHandler(ctx)({}, lambdaContext);
    vi.restoreAllMocks();
    vi.unstubAllEnvs();

    // Assess
    expect(previousUtcDay(new Date("2022-06-30T12:00:00.000Z"))).toBe(DAY);
    expect(counted.day).toBe(DAY);
    expect(counted.sites).toEqual(expect.arrayContaining([{ site, missing: 6 }, { site: otherSite, missing: 10_441 }]));
    const emf = lines
      .filter((line) => line.startsWith("{"))
      .map((line) => z.record(z.unknown()).parse(JSON.parse(line)))
      .filter((entry) => COUNTER_GAPS_METRIC in entry);
    expect(emf).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ site, [COUNTER_GAPS_METRIC]: 6 }),
        expect.objectContaining({ site: otherSite, [COUNTER_GAPS_METRIC]: 10_441 }),
      ]),
    );
    expect(emf.find((entry) => entry["site"] === site)).toMatchObject({
      _aws: { CloudWatchMetrics: [{ Dimensions: [expect.arrayContaining(["site"])], Metrics: [{ Name: COUNTER_GAPS_METRIC, Unit: "Count" }] }] },
    });
    // The network's total, flushed with the invocation: every site of the day, these two among them.
    const total = emf.find((entry) => !("site" in entry));
    expect(total?.[COUNTER_GAPS_METRIC]).toBe(counted.sites.reduce((sum, entry) => sum + entry.missing, 0));
  });
});
