import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { ANONYMOUS_UPLOADS_METRIC, listAnonymousUploaders } from "@archive/core/api/anonymousUploads";
import { handleApiRequest } from "@archive/core/api/handleRequest";
import { hashToken, issueToken, listTokens, revokeToken } from "@archive/core/api/siteTokens";
import { uploadRoutes } from "@archive/core/api/uploadRoutes";
import { findImage } from "@archive/core/exposures/imageQueries";
import type { ArchiveContext } from "@archive/core/platform/context";
import { createHandler as createUploadHandler } from "@archive/functions/apiUpload";
import { createHandler as createAuthorizerHandler } from "@archive/functions/authorizer";
import type { HttpApiEvent } from "@archive/functions/lib/http";
import authorizerFixture from "../fixtures/apigw/authorizer-request.json";
import uploadFixture from "../fixtures/apigw/upload-request.json";
import {
  MAX_UPLOAD_BYTES,
  UPLOAD_URL_EXPIRES_SECONDS,
  invoke,
  lambdaContext,
  readObject,
  runTokensScript,
  uniqueBase,
  uniqueSite,
  useApiServices,
} from "./apiHarness";

const services = useApiServices();

/** The functions API Gateway runs for POST /upload, bound to one context: the authorizer, then apiUpload. */
interface UploadFunctions {
  authorizer: ReturnType<typeof createAuthorizerHandler>;
  upload: ReturnType<typeof createUploadHandler>;
}

function uploadFunctions(ctx: ArchiveContext): UploadFunctions {
  return { authorizer: createAuthorizerHandler(ctx), upload: createUploadHandler(ctx) };
}

let functions: UploadFunctions;
beforeAll(() => {
  functions = uploadFunctions(services.ctx);
});

const presignedPostSchema = z.object({ url: z.string().url(), fields: z.record(z.string()) });
const errorBodySchema = z.object({ error: z.string(), message: z.string(), field: z.string().optional() });

/** What API Gateway does: run the authorizer on the request, then hand its context to the route's function. */
async function postUpload(
  body: unknown,
  authorization?: string,
  { authorizer, upload }: UploadFunctions = functions,
): Promise<{ status: number; body: unknown }> {
  const { authorization: _fixtureToken, ...anonymousHeaders } = uploadFixture.headers;
  const headers: Record<string, string> = authorization ? { ...anonymousHeaders, authorization } : anonymousHeaders;
  const authorizerEvent = { ...authorizerFixture, type: "REQUEST" as const, cookies: [], headers, identitySource: [authorization ?? ""] };
  const decision = await authorizer(authorizerEvent, lambdaContext);
  expect(decision.isAuthorized).toBe(true);
  const event: HttpApiEvent = {
    ...uploadFixture,
    headers,
    body: typeof body === "string" ? body : JSON.stringify(body),
    requestContext: { ...uploadFixture.requestContext, authorizer: { lambda: decision.context } },
  };
  return invoke(upload, event);
}

async function siteToken(site: string): Promise<string> {
  return `Bearer ${(await issueToken(services.ctx, site, services.ctx.clock())).token}`;
}

/** Posts the file to a presigned POST as a site script does; the bucket's answer status. */
async function postFile({ url, fields }: z.infer<typeof presignedPostSchema>, name: string, file: Buffer): Promise<number> {
  const form = new FormData();
  for (const [field, value] of Object.entries(fields)) form.append(field, value);
  form.append("file", new Blob([file]), name);
  return (await fetch(url, { method: "POST", body: form })).status;
}

describe("POST /upload", () => {
  it("gives a site script a presigned POST that stores its file in the bucket with 204", async () => {
    // Prepare
    const site = uniqueSite();
    const objectName = `${uniqueBase(site)}-EX10.jpg`;
    const file = Buffer.from("a medium jpg's bytes");

    // Act
    const reply = await postUpload({ object_name: objectName, s3_directory: "data" }, await siteToken(site));
    const { url, fields } = presignedPostSchema.parse(reply.body);
    const form = new FormData();
    for (const [name, value] of Object.entries(fields)) form.append(name, value);
    form.append("file", new Blob([file]), objectName);
    const posted = await fetch(url, { method: "POST", body: form });

    // Assess
    expect(reply.status).toBe(200);
    expect(fields.key).toBe(`data/${objectName}`);
    expect(posted.status).toBe(204);
    expect(await readObject(services.ctx, `data/${objectName}`)).toEqual(file);
  });

  it("signs a policy that pins the exact key, the size range and a short expiry", async () => {
    // Prepare
    const site = uniqueSite();
    const objectName = `${uniqueBase(site)}-EX01.fits.bz2`;
    const before = Date.now();

    // Act
    const reply = await postUpload({ object_name: objectName }, await siteToken(site));

    // Assess
    const { fields } = presignedPostSchema.parse(reply.body);
    const policy = z
      .object({ expiration: z.string(), conditions: z.array(z.unknown()) })
      .parse(JSON.parse(Buffer.from(fields.Policy ?? "", "base64").toString("utf8")));
    expect(policy.conditions).toContainEqual({ key: `data/${objectName}` });
    expect(policy.conditions).not.toContainEqual(expect.arrayContaining(["starts-with", "$key"]));
    expect(policy.conditions).toContainEqual(["content-length-range", 1, MAX_UPLOAD_BYTES]);
    expect(policy.conditions).toContainEqual({ bucket: services.bucket });
    const expiresIn = Date.parse(policy.expiration) - before;
    expect(expiresIn).toBeGreaterThan((UPLOAD_URL_EXPIRES_SECONDS - 20) * 1000);
    expect(expiresIn).toBeLessThanOrEqual((UPLOAD_URL_EXPIRES_SECONDS + 1) * 1000);
  });

  it("records the info channel of an info image in the site's metadata item", async () => {
    // Prepare
    const site = uniqueSite();
    const base = uniqueBase(site);

    // Act
    const reply = await postUpload(
      { object_name: `${base}-EX10.jpg`, s3_directory: "info-images", info_channel: 2 },
      await siteToken(site),
    );

    // Assess
    expect(reply.status).toBe(200);
    expect(presignedPostSchema.parse(reply.body).fields.key).toBe(`info-images/${base}-EX10.jpg`);
    const metadata = await services.ctx.dynamo.send(
      new GetCommand({ TableName: services.dynamo.tableNames.infoImages, Key: { pk: `${site}#metadata` } }),
    );
    expect(metadata.Item?.channel2).toBe(base);
  });

  it("creates the exposure's row from a header sent with the request, before any file arrives", async () => {
    // Prepare
    const site = uniqueSite();
    const base = uniqueBase(site);
    const header = {
      SIMPLE: true,
      "DATE-OBS": "2024-03-12T03:04:05.250",
      EXPTIME: 30,
      FILTER: "ha",
      RA: 12.5,
      DEC: -30.25,
      ALTITUDE: 55.5,
      AZIMUTH: 181.25,
      AIRMASS: 1.2,
      USERNAME: "Ada Lovelace",
      USERID: "google-oauth2|1234",
      COMMENT: ["first comment"],
    };

    // Act
    const reply = await postUpload({ object_name: `${base}-EX01.fits.bz2`, header }, await siteToken(site));

    // Assess
    expect(reply.status).toBe(200);
    const row = await findImage(services.ctx.db, base);
    expect(row).toMatchObject({
      base_filename: base,
      site,
      data_type: "EX",
      exposure_time: 30,
      filter_used: "ha",
      airmass: 1.2,
      username: "Ada Lovelace",
      user_id: "google-oauth2|1234",
      fits_01_exists: false,
      jpg_medium_exists: false,
    });
    expect(row?.capture_date?.toISOString()).toBe("2024-03-12T03:04:05.250Z");
    // The contract: `header` holds every value as a string, as the card would write it.
    expect(JSON.parse(row?.header ?? "{}")).toMatchObject({ FILTER: "ha", EXPTIME: "30" });
  });
});

describe("upload names as the replaced service accepted them", () => {
  it("stores an upload to test/ as named, and nothing reads it", async () => {
    // Prepare
    const site = uniqueSite();
    const base = uniqueBase(site);
    const objectName = `${base}-EX10.jpg`;
    const file = Buffer.from("a test upload");

    // Act
    const reply = await postUpload({ object_name: objectName, s3_directory: "test" }, await siteToken(site));
    const presigned = presignedPostSchema.parse(reply.body);
    const posted = await postFile(presigned, objectName, file);

    // Assess
    expect(reply.status).toBe(200);
    expect(presigned.fields.key).toBe(`test/${objectName}`);
    expect(posted).toBe(204);
    expect(await readObject(services.ctx, `test/${objectName}`)).toEqual(file);
    expect(await findImage(services.ctx.db, base)).toBeUndefined();
  });

  it("keeps a mixed-case name exactly as named in the key it signs", async () => {
    // Prepare
    const site = uniqueSite().toUpperCase();
    const objectName = `${uniqueBase(site).replace("kb001ms", "Kb001MS")}-Ex10.JPG`;
    const file = Buffer.from("a medium jpg named in upper case");

    // Act
    const reply = await postUpload({ object_name: objectName, s3_directory: "data" }, await siteToken(site));
    const presigned = presignedPostSchema.parse(reply.body);
    const posted = await postFile(presigned, objectName, file);

    // Assess
    expect(reply.status).toBe(200);
    expect(presigned.fields.key).toBe(`data/${objectName}`);
    expect(posted).toBe(204);
    expect(await readObject(services.ctx, `data/${objectName}`)).toEqual(file);
  });

  it.each(["png", "csv", "json", "tar.gz"])("signs an upload of an extension the archive only stores (.%s)", async (extension) => {
    // Prepare
    const site = uniqueSite();
    const objectName = `${uniqueBase(site)}-EX10.${extension}`;

    // Act
    const reply = await postUpload({ object_name: objectName }, await siteToken(site));

    // Assess
    expect(reply.status).toBe(200);
    expect(presignedPostSchema.parse(reply.body).fields.key).toBe(`data/${objectName}`);
  });

  it("records the info channel of a mixed-case info image under its site as named", async () => {
    // Prepare
    const site = uniqueSite().toUpperCase();
    const base = uniqueBase(site);

    // Act
    const reply = await postUpload(
      { object_name: `${base}-EX10.Jpg`, s3_directory: "info-images", info_channel: 3 },
      await siteToken(site),
    );

    // Assess
    expect(reply.status).toBe(200);
    const metadata = await services.ctx.dynamo.send(
      new GetCommand({ TableName: services.dynamo.tableNames.infoImages, Key: { pk: `${site}#metadata` } }),
    );
    expect(metadata.Item?.channel3).toBe(base);
  });
});

describe("upload authorization", () => {
  it("refuses a request without a token with 401", async () => {
    const reply = await postUpload({ object_name: `${uniqueBase(uniqueSite())}-EX10.jpg` });

    expect(reply.status).toBe(401);
    expect(errorBodySchema.parse(reply.body).error).toBe("unauthorized");
  });

  it("refuses an unknown token with 401", async () => {
    const reply = await postUpload({ object_name: `${uniqueBase(uniqueSite())}-EX10.jpg` }, "Bearer not-a-real-token");

    expect(reply.status).toBe(401);
  });

  it("refuses another site's file with 403", async () => {
    // Prepare
    const token = await siteToken(uniqueSite());

    // Act
    const reply = await postUpload({ object_name: `${uniqueBase(uniqueSite())}-EX10.jpg` }, token);

    // Assess
    expect(reply.status).toBe(403);
    expect(errorBodySchema.parse(reply.body).error).toBe("forbidden");
  });

  it("refuses a revoked token with 401", async () => {
    // Prepare
    const site = uniqueSite();
    const issued = await issueToken(services.ctx, site, services.ctx.clock());
    await revokeToken(services.ctx, issued.tokenHash, services.ctx.clock());

    // Act
    const reply = await postUpload({ object_name: `${uniqueBase(site)}-EX10.jpg` }, `Bearer ${issued.token}`);

    // Assess
    expect(reply.status).toBe(401);
    expect(errorBodySchema.parse(reply.body).message).toMatch(/revoked/);
  });

  it("accepts uploads without a token on a stage that allows anonymous uploads", async () => {
    // Prepare
    const anonymousStage = uploadFunctions(services.contextWith({ ALLOW_ANONYMOUS_UPLOADS: "true" }));

    // Act
    const reply = await postUpload({ object_name: `${uniqueBase(uniqueSite())}-EX10.jpg` }, undefined, anonymousStage);

    // Assess
    expect(reply.status).toBe(200);
  });

  it("stores a token only as its hash and keeps a revoked token listed with the revocation time", async () => {
    // Prepare
    const site = uniqueSite();
    const issued = await issueToken(services.ctx, site, services.ctx.clock());

    // Act
    await revokeToken(services.ctx, issued.token, new Date("2024-03-12T10:00:00.000Z"));

    // Assess
    const stored = await services.ctx.dynamo.send(
      new GetCommand({ TableName: services.dynamo.tableNames.siteTokens, Key: { token_hash: hashToken(issued.token) } }),
    );
    expect(JSON.stringify(stored.Item)).not.toContain(issued.token);
    expect(await listTokens(services.ctx, site)).toEqual([
      { kind: "site", tokenHash: issued.tokenHash, site, issuedAt: issued.issuedAt, revokedAt: "2024-03-12T10:00:00.000Z" },
    ]);
  });

  it("authorizes from the Authorization header when no authorizer ran (the local archive's path)", async () => {
    // Prepare
    const site = uniqueSite();
    const token = await siteToken(site);
    const request = (name: string, authorization?: string) => ({
      method: "POST",
      path: "/upload",
      query: {},
      headers: { authorization, "content-type": "application/json" },
      body: JSON.stringify({ object_name: name }),
      requestId: "local-1",
    });

    // Act
    const own = await handleApiRequest(services.ctx, uploadRoutes, request(`${uniqueBase(site)}-EX10.jpg`, token));
    const other = await handleApiRequest(services.ctx, uploadRoutes, request(`${uniqueBase(uniqueSite())}-EX10.jpg`, token));
    const none = await handleApiRequest(services.ctx, uploadRoutes, request(`${uniqueBase(site)}-EX10.jpg`));

    // Assess
    expect([own.status, other.status, none.status]).toEqual([200, 403, 401]);
  });
});

describe("upload request validation", () => {
  const base = "sro-kb001ms-20220629-00010442";
  const hostileNames: [string, unknown][] = [
    ["a parent-directory path", `../${base}-EX10.jpg`],
    ["a nested parent-directory path", `..%2F..%2F${base}-EX10.jpg`],
    ["a path with slashes", `data/${base}-EX10.jpg`],
    ["a backslash path", `..\\${base}-EX10.jpg`],
    ["a 10 kB name", `${base}-EX10.jpg${"x".repeat(10 * 1024)}`],
    ["a unicode name", `sro-kb001ms-20220629-0001044２-EX10.jpg`],
    ["a name with a NUL byte", `${base}-EX10.jpg\u0000.txt`],
    ["a name with a bell character", `${base}-EX10\u0007.jpg`],
    ["a name with an empty extension part", `${base}-EX10.fits..bz2`],
    ["a name with a space", `${base}-EX10.j pg`],
    ["a name with a percent escape", `${base}-EX10.jpg%00`],
    ["a well-formed name over 128 characters", `sro-${"k".repeat(100)}-20220629-00010442-EX10.jpg`],
    ["a name without an extension", `${base}-EX10`],
    ["a name whose extension starts with a digit", `${base}-EX10.7z`],
    ["an empty name", ""],
    ["a number", 12345],
    ["a name that is not an archive file name", "photo.jpg"],
    ["a name with an impossible date", "sro-kb001ms-20220230-00010442-EX10.jpg"],
  ];

  it.each(hostileNames)("refuses %s with 400 naming object_name", async (_label, objectName) => {
    // Prepare
    const token = await siteToken("sro");

    // Act
    const reply = await postUpload({ object_name: objectName }, token);

    // Assess
    expect(reply.status).toBe(400);
    expect(errorBodySchema.parse(reply.body)).toMatchObject({ error: "invalid_input", field: "object_name" });
  });

  it.each([
    [`../${base}-EX10.jpg`, 'must not contain a path separator'],
    [`${base}-EX10.jpg\u0000`, "must be printable ASCII"],
    [`${base}-EX10.fits..bz2`, 'must not contain ".."'],
    [`sro-kb001ms-20220631-00010442-EX10.jpg`, "date 20220631 is not a calendar date"],
    [`sro-kb001ms-20220629-00010442-EX10.7z`, 'extension "7z"'],
  ])("says why %s is refused", async (objectName, reason) => {
    const reply = await postUpload({ object_name: objectName }, await siteToken("sro"));

    expect(reply.status).toBe(400);
    const body = errorBodySchema.parse(reply.body);
    expect(body.field).toBe("object_name");
    expect(body.message).toContain("object_name");
    expect(body.message).toContain(reason);
  });

  it.each([
    ["s3_directory", { object_name: `${base}-EX10.jpg`, s3_directory: "../data" }],
    ["s3_directory", { object_name: `${base}-EX10.jpg`, s3_directory: "downloads" }],
    ["header", { object_name: `${base}-EX10.jpg`, s3_directory: "test", header: { EXPTIME: 30 } }],
    ["info_channel", { object_name: `${base}-EX10.jpg`, s3_directory: "info-images", info_channel: 4 }],
    ["object_name", { s3_directory: "data" }],
    ["header.EXPTIME", { object_name: `${base}-EX10.jpg`, header: { EXPTIME: { nested: true } } }],
    ["header", { object_name: `${base}-EX10.jpg`, s3_directory: "info-images", header: { EXPTIME: 30 } }],
    ["body", "{not json"],
    ["body", ""],
  ])("refuses a bad %s with 400 naming it", async (field, body) => {
    const reply = await postUpload(body, await siteToken("sro"));

    expect(reply.status).toBe(400);
    expect(errorBodySchema.parse(reply.body).field).toBe(field);
  });

  it("answers a malformed event with a generic 500 carrying the request id and no message", async () => {
    // Prepare
    const event = { ...uploadFixture, requestContext: { ...uploadFixture.requestContext, http: undefined } };

    // Act
    const reply = await invoke(functions.upload, event as unknown as HttpApiEvent);

    // Assess
    expect(reply.status).toBe(500);
    expect(reply.body).toEqual({ error: "internal", request_id: lambdaContext.awsRequestId });
  });
});

describe("legacy clients during the migration (ALLOW_ANONYMOUS_UPLOADS=until-site-token)", () => {
  const untilSiteToken = () => uploadFunctions(services.contextWith({ ALLOW_ANONYMOUS_UPLOADS: "until-site-token" }));

  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it("accepts a site's uploads without a token while the site has no active token, and counts them per site", async () => {
    // Prepare
    const stage = untilSiteToken();
    const site = uniqueSite();
    const first = `${uniqueBase(site)}-EX00.txt`;
    const second = `${uniqueBase(site)}-EX10.jpg`;

    // Act
    const replies = [await postUpload({ object_name: first }, undefined, stage), await postUpload({ object_name: second }, undefined, stage)];

    // Assess
    expect(replies.map((reply) => reply.status)).toEqual([200, 200]);
    const [tally] = await listAnonymousUploaders(services.ctx, site);
    expect(tally).toMatchObject({ site, uploadCount: 2, lastObjectKey: `data/${second}` });
    expect(Date.parse(tally?.lastSeenAt ?? "")).toBeGreaterThanOrEqual(Date.parse(tally?.firstSeenAt ?? ""));
  });

  it("refuses a site's uploads without a token once it has an active token, and takes its token", async () => {
    // Prepare
    const stage = untilSiteToken();
    const site = uniqueSite();
    const token = await siteToken(site);

    // Act
    const anonymous = await postUpload({ object_name: `${uniqueBase(site)}-EX10.jpg` }, undefined, stage);
    const withToken = await postUpload({ object_name: `${uniqueBase(site)}-EX10.jpg` }, token, stage);
    const otherSite = await postUpload({ object_name: `${uniqueBase(uniqueSite())}-EX10.jpg` }, undefined, stage);

    // Assess
    expect(anonymous.status).toBe(401);
    expect(errorBodySchema.parse(anonymous.body)).toMatchObject({ error: "unauthorized", message: expect.stringContaining(`site ${site} has a site token`) });
    expect(withToken.status).toBe(200);
    expect(otherSite.status).toBe(200);
    expect(await listAnonymousUploaders(services.ctx, site)).toEqual([]);
  });

  it("accepts a site's uploads without a token again when its only token is revoked", async () => {
    // Prepare
    const stage = untilSiteToken();
    const site = uniqueSite();
    const issued = await issueToken(services.ctx, site, services.ctx.clock());
    await revokeToken(services.ctx, issued.tokenHash, services.ctx.clock());

    // Act
    const reply = await postUpload({ object_name: `${uniqueBase(site)}-EX10.jpg` }, undefined, stage);

    // Assess
    expect(reply.status).toBe(200);
  });

  it("still refuses a wrong token and another site's token", async () => {
    // Prepare
    const stage = untilSiteToken();
    const site = uniqueSite();

    // Act
    const wrong = await postUpload({ object_name: `${uniqueBase(site)}-EX10.jpg` }, "Bearer not-a-real-token", stage);
    const foreign = await postUpload({ object_name: `${uniqueBase(site)}-EX10.jpg` }, await siteToken(uniqueSite()), stage);

    // Assess
    expect([wrong.status, foreign.status]).toEqual([401, 403]);
    expect(await listAnonymousUploaders(services.ctx, site)).toEqual([]);
  });

  it("lets the upload function's own setting decide, whatever the authorizer was configured with", async () => {
    // Prepare: an authorizer that admits callers without a token in front of an upload function that requires one
    const mixed = { authorizer: uploadFunctions(services.contextWith({ ALLOW_ANONYMOUS_UPLOADS: "true" })).authorizer, upload: functions.upload };

    // Act
    const reply = await postUpload({ object_name: `${uniqueBase(uniqueSite())}-EX10.jpg` }, undefined, mixed);

    // Assess
    expect(reply.status).toBe(401);
  });

  it("publishes an AnonymousUploads metric with the site as its dimension", async () => {
    // Prepare: metrics on, written to the console the test reads
    vi.stubEnv("POWERTOOLS_METRICS_DISABLED", "false");
    vi.stubEnv("POWERTOOLS_DEV", "true");
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((line: unknown) => void lines.push(String(line)));
    const site = uniqueSite();

    // Act
    const reply = await postUpload({ object_name: `${uniqueBase(site)}-EX10.jpg` }, undefined, untilSiteToken());

    // Assess
    expect(reply.status).toBe(200);
    const emf = lines.map((line) => JSON.parse(line) as Record<string, unknown>).find((entry) => ANONYMOUS_UPLOADS_METRIC in entry);
    expect(emf).toMatchObject({ site, [ANONYMOUS_UPLOADS_METRIC]: 1 });
    expect(emf).toMatchObject({
      _aws: { CloudWatchMetrics: [{ Dimensions: [expect.arrayContaining(["site"])], Metrics: [{ Name: ANONYMOUS_UPLOADS_METRIC, Unit: "Count" }] }] },
    });
  });

  it("npm run tokens -- list shows which sites still upload without a token, with last seen and count", async () => {
    // Prepare
    const stage = untilSiteToken();
    const site = uniqueSite();
    for (let i = 0; i < 3; i += 1) await postUpload({ object_name: `${uniqueBase(site)}-EX10.jpg` }, undefined, stage);
    const [tally] = await listAnonymousUploaders(services.ctx, site);

    // Act
    const stdout = await runTokensScript(services, ["list", site], { ALLOW_ANONYMOUS_UPLOADS: "until-site-token" });

    // Assess
    expect(stdout).toContain("no site tokens");
    expect(stdout).toContain("uploads without a token (ALLOW_ANONYMOUS_UPLOADS=until-site-token):");
    expect(stdout).toMatch(new RegExp(`^${site}\tlast seen ${tally?.lastSeenAt}\t3 uploads since .*\tno active token\t`, "m"));
  });
});
