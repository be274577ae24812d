import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { parseFileName } from "@archive/core/names/fileName";
import { logUpload } from "@archive/core/deliveries/uploadLog";
import { recordFile, recordHeader } from "@archive/core/exposures/imageStore";
import type { ImageHeaderFields } from "@archive/core/exposures/imagesTable";
import { assignChannel, recordInfoFile } from "@archive/core/infoImages/infoChannels";
import { createHandler as createDownloadHandler } from "@archive/functions/apiDownload";
import { createHandler as createReadsHandler } from "@archive/functions/apiReads";
import type { HttpApiEvent } from "@archive/functions/lib/http";
import downloadFixture from "../fixtures/apigw/download-request.json";
import { knownObjectKey } from "../support/objectEvents";
import { getEvent, invoke, putObject, uniqueBase, uniqueSite, useApiServices } from "./apiHarness";

const services = useApiServices();

let readsHandler: ReturnType<typeof createReadsHandler>;
let downloadHandler: ReturnType<typeof createDownloadHandler>;
beforeAll(() => {
  readsHandler = createReadsHandler(services.ctx);
  downloadHandler = createDownloadHandler(services.ctx);
});

const IMAGE_PACKAGE_FIELDS = [
  "image_id",
  "base_filename",
  "data_type",
  "site",
  "exposure_time",
  "filter_used",
  "right_ascension",
  "declination",
  "azimuth",
  "altitude",
  "airmass",
  "fits_01_exists",
  "fits_10_exists",
  "jpg_medium_exists",
  "jpg_small_exists",
  "s3_directory",
  "username",
  "user_id",
  "fits_filename",
  "fits_path",
  "SMARTSTK",
  "SSTKNUM",
  "capture_date",
  "sort_date",
  "jpg_url",
  "jpg_thumbnail_url",
].sort();

const imagePackageSchema = z
  .object({ base_filename: z.string(), sort_date: z.number().nullable(), jpg_url: z.string(), jpg_thumbnail_url: z.string() })
  .passthrough();
const errorBodySchema = z.object({ error: z.string(), message: z.string(), field: z.string().optional() });

function headerFields(capture: string, extra: Partial<ImageHeaderFields> = {}): ImageHeaderFields {
  const date = new Date(capture);
  return {
    right_ascension: 10.5,
    declination: -20.25,
    altitude: 60,
    azimuth: 120.5,
    filter_used: "r",
    airmass: 1.15,
    exposure_time: 45,
    user_id: "google-oauth2|42",
    username: "Vera Rubin",
    capture_date: date,
    sort_date: date,
    header: JSON.stringify({ FILTER: "r", EXPTIME: 45, "DATE-OBS": capture }),
    ...extra,
  };
}

/** An exposure in Postgres as the ingestion leaves it: the header, then the files that arrived. */
async function exposure(base: string, capture: string, files: string[]): Promise<void> {
  await recordHeader(services.ctx.db, parseFileName(`${base}-EX00.txt`), headerFields(capture));
  for (const suffix of files) await recordFile(services.ctx.db, parseFileName(`${base}-${suffix}`));
}

describe("GET /{site}/latest_images/{n}", () => {
  it("lists a site's newest exposures with a medium jpg, newest first, as image packages", async () => {
    // Prepare
    const site = uniqueSite();
    const older = uniqueBase(site);
    const newer = uniqueBase(site);
    const withoutJpg = uniqueBase(site);
    await exposure(older, "2024-03-12T01:00:00.000Z", ["EX10.jpg", "EX11.jpg", "EX01.fits.bz2"]);
    await exposure(newer, "2024-03-12T02:00:00.000Z", ["EX10.jpg"]);
    await exposure(withoutJpg, "2024-03-12T03:00:00.000Z", ["EX01.fits.bz2"]);

    // Act
    const reply = await invoke(readsHandler, getEvent(`/${site}/latest_images/5`));

    // Assess
    expect(reply.status).toBe(200);
    const packages = z.array(imagePackageSchema).parse(reply.body);
    expect(packages.map((p) => p.base_filename)).toEqual([newer, older]);
    expect(Object.keys(packages[1] ?? {}).sort()).toEqual(IMAGE_PACKAGE_FIELDS);
    expect(packages[1]).toMatchObject({
      site,
      data_type: "EX",
      s3_directory: "data",
      exposure_time: 45,
      filter_used: "r",
      right_ascension: 10.5,
      declination: -20.25,
      altitude: 60,
      azimuth: 120.5,
      airmass: 1.15,
      username: "Vera Rubin",
      user_id: "google-oauth2|42",
      fits_01_exists: true,
      fits_10_exists: false,
      jpg_medium_exists: true,
      jpg_small_exists: true,
      capture_date: Date.parse("2024-03-12T01:00:00.000Z"),
      sort_date: Date.parse("2024-03-12T01:00:00.000Z"),
    });
    expect(packages[1]?.jpg_url).toContain(`/data/${older}-EX10.jpg?`);
    expect(packages[1]?.jpg_thumbnail_url).toContain(`/data/${older}-EX11.jpg?`);
    expect(packages[0]?.jpg_thumbnail_url).toBe("");
  });

  it("returns at most n packages", async () => {
    const site = uniqueSite();
    const newest = uniqueBase(site);
    await exposure(uniqueBase(site), "2024-03-12T01:00:00.000Z", ["EX10.jpg"]);
    await exposure(newest, "2024-03-12T04:00:00.000Z", ["EX10.jpg"]);

    const reply = await invoke(readsHandler, getEvent(`/${site}/latest_images/1`));

    expect(z.array(imagePackageSchema).parse(reply.body).map((p) => p.base_filename)).toEqual([newest]);
  });

  it("answers 200 [] for a site without images", async () => {
    const reply = await invoke(readsHandler, getEvent(`/${uniqueSite()}/latest_images/5`));

    expect(reply).toMatchObject({ status: 200, body: [] });
  });

  it.each([
    ["n", "/sro/latest_images/0"],
    ["n", "/sro/latest_images/many"],
    ["site", "/SRO!/latest_images/5"],
  ])("answers 400 naming %s for %s", async (field, path) => {
    const reply = await invoke(readsHandler, getEvent(path));

    expect(reply.status).toBe(400);
    expect(errorBodySchema.parse(reply.body).field).toBe(field);
  });
});

describe("GET /image/{base_filename}", () => {
  it("returns the exposure's image package", async () => {
    const base = uniqueBase(uniqueSite());
    await exposure(base, "2024-03-12T05:06:07.500Z", ["EX10.jpg"]);

    const reply = await invoke(readsHandler, getEvent(`/image/${base}`));

    expect(reply.status).toBe(200);
    const found = imagePackageSchema.parse(reply.body);
    expect(found).toMatchObject({ base_filename: base, sort_date: Date.parse("2024-03-12T05:06:07.500Z"), jpg_medium_exists: true });
    expect(Object.keys(found).sort()).toEqual(IMAGE_PACKAGE_FIELDS);
  });

  it("links the medium jpg the archive holds: reduction 13 when only that one arrived, else 10", async () => {
    // Prepare: one exposure with only a reduction-13 medium jpg, one with both 13 and 10
    const site = uniqueSite();
    const only13 = uniqueBase(site);
    const both = uniqueBase(site);
    await exposure(only13, "2024-03-12T05:06:07.500Z", ["EX13.jpg"]);
    await exposure(both, "2024-03-12T05:07:07.500Z", ["EX13.jpg", "EX10.jpg"]);
    await putObject(services.ctx, `data/${only13}-EX13.jpg`, Buffer.from("a reduction-13 jpg"));

    // Act
    const only13Package = imagePackageSchema.parse((await invoke(readsHandler, getEvent(`/image/${only13}`))).body);
    const bothPackage = imagePackageSchema.parse((await invoke(readsHandler, getEvent(`/image/${both}`))).body);

    // Assess: the link names the jpg that exists, and fetches it
    expect(new URL(only13Package.jpg_url).pathname).toMatch(new RegExp(`/data/${only13}-EX13\\.jpg$`));
    expect(await (await fetch(only13Package.jpg_url)).text()).toBe("a reduction-13 jpg");
    expect(new URL(bothPackage.jpg_url).pathname).toMatch(new RegExp(`/data/${both}-EX10\\.jpg$`));
  });

  it("answers 404 for an exposure the archive does not hold", async () => {
    const reply = await invoke(readsHandler, getEvent(`/image/${uniqueBase(uniqueSite())}`));

    expect(reply.status).toBe(404);
  });

  it("answers 400 naming base_filename for a malformed one", async () => {
    const reply = await invoke(readsHandler, getEvent("/image/..%2F..%2Fetc"));

    expect(reply.status).toBe(400);
    expect(errorBodySchema.parse(reply.body).field).toBe("base_filename");
  });
});

describe("GET /fitsheader/{base_filename}", () => {
  it("returns the stored header as a JSON object", async () => {
    const base = uniqueBase(uniqueSite());
    await exposure(base, "2024-03-12T05:06:07.000Z", []);

    const reply = await invoke(readsHandler, getEvent(`/fitsheader/${base}`));

    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({ FILTER: "r", EXPTIME: 45, "DATE-OBS": "2024-03-12T05:06:07.000Z" });
  });

  it("answers 200 {} when the exposure has no header yet", async () => {
    const base = uniqueBase(uniqueSite());
    await recordFile(services.ctx.db, parseFileName(`${base}-EX10.jpg`));

    const reply = await invoke(readsHandler, getEvent(`/fitsheader/${base}`));

    expect(reply).toMatchObject({ status: 200, body: {} });
  });
});

describe("GET /recentuploads", () => {
  it("lists a site's uploads, and all sites' uploads for site=all, newest first", async () => {
    // Prepare
    const site = uniqueSite();
    const first = `${uniqueBase(site)}-EX10.jpg`;
    const second = `${uniqueBase(site)}-EX01.fits.bz2`;
    const now = Date.now();
    await logUpload(services.ctx, { key: `data/${first}`, size: 1200, uploadedAt: new Date(now - 2000), sequencer: "0055AED6DCD90281E5" });
    await logUpload(services.ctx, { key: `data/${second}`, size: 3400, uploadedAt: new Date(now - 1000), sequencer: "0055AED6DCD90281E6" });

    // Act
    const own = await invoke(readsHandler, getEvent("/recentuploads", { site }));
    const all = await invoke(readsHandler, getEvent("/recentuploads", { site: "all" }));

    // Assess
    const entries = z.array(z.object({ site: z.string(), filename: z.string(), upload_timestamp_s: z.number() }).passthrough());
    expect(own.status).toBe(200);
    expect(entries.parse(own.body).map((e) => e.filename)).toEqual([`data/${second}`, `data/${first}`]);
    expect(entries.parse(own.body)[0]).toEqual({
      site,
      upload_timestamp_s: expect.closeTo((now - 1000) / 1000, 2),
      filename: `data/${second}`,
      size_bytes: 3400,
      expire_timestamp_s: Math.floor((now - 1000) / 1000) + 48 * 3600,
    });
    expect(entries.parse(all.body).map((e) => e.filename)).toEqual(expect.arrayContaining([`data/${first}`, `data/${second}`]));
  });

  it("answers 400 naming site when it is missing", async () => {
    const reply = await invoke(readsHandler, getEvent("/recentuploads"));

    expect(reply.status).toBe(400);
    expect(errorBodySchema.parse(reply.body).field).toBe("site");
  });
});

describe("GET /infoimage/{site}/{channel}", () => {
  it("returns the channel's current info image with a link to its jpg", async () => {
    // Prepare
    const site = uniqueSite();
    const base = uniqueBase(site);
    await assignChannel(services.ctx, site, 2, base);
    await recordInfoFile(services.ctx, { file: knownObjectKey(`info-images/${base}-EX10.jpg`), now: services.ctx.clock() });

    // Act
    const reply = await invoke(readsHandler, getEvent(`/infoimage/${site}/2`));

    // Assess
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({
      site,
      channel: 2,
      base_filename: base,
      s3_directory: "info-images",
      jpg_medium_exists: true,
      jpg_small_exists: false,
      jpg_url: expect.stringContaining(`/info-images/${base}-EX10.jpg?`),
      // the stored item comes along, as the old read API spreads it into its answer
      jpg_10_file_path: `info-images/${base}-EX10.jpg`,
      expiration_timestamp: expect.any(Number),
    });
    expect(reply.body).not.toHaveProperty("jpg_small_url");
  });

  it("answers 204 for a channel that shows nothing", async () => {
    const reply = await invoke(readsHandler, getEvent(`/infoimage/${uniqueSite()}/3`));

    expect(reply.status).toBe(204);
  });

  it("answers 400 naming channel for a channel other than 1-3", async () => {
    const reply = await invoke(readsHandler, getEvent(`/infoimage/${uniqueSite()}/4`));

    expect(reply.status).toBe(400);
    expect(errorBodySchema.parse(reply.body).field).toBe("channel");
  });
});

describe("POST /download", () => {
  function downloadEvent(body: unknown): HttpApiEvent {
    return { ...downloadFixture, isBase64Encoded: false, body: JSON.stringify(body) };
  }

  it("returns a presigned GET that fetches the file", async () => {
    // Prepare
    const objectName = `${uniqueBase(uniqueSite())}-EX10.fits.bz2`;
    const bytes = Buffer.from("BZh91AY&SY a small fits");
    await putObject(services.ctx, `data/${objectName}`, bytes);

    // Act
    const reply = await invoke(downloadHandler, downloadEvent({ object_name: objectName, s3_directory: "data" }));

    // Assess
    expect(reply.status).toBe(200);
    const url = z.string().url().parse(reply.body);
    expect(Buffer.from(await (await fetch(url)).arrayBuffer())).toEqual(bytes);
  });

  it("reads a base64-encoded body as API Gateway may deliver it", async () => {
    // Prepare: the fixture's body names this file
    await putObject(services.ctx, "data/sro-kb001ms-20220629-00010442-EX10.jpg", Buffer.from("jpg"));

    // Act
    const reply = await invoke(downloadHandler, downloadFixture);

    // Assess
    expect(reply.status).toBe(200);
    const url = z.string().url().parse(reply.body);
    expect(Buffer.from(await (await fetch(url)).arrayBuffer())).toEqual(Buffer.from("jpg"));
  });

  it("answers 404 for a file the bucket does not hold", async () => {
    const reply = await invoke(downloadHandler, downloadEvent({ object_name: `${uniqueBase(uniqueSite())}-EX10.jpg` }));

    expect(reply.status).toBe(404);
    expect(errorBodySchema.parse(reply.body).message).toMatch(/no file data\//);
  });

  it("answers 400 naming object_name for a path", async () => {
    const reply = await invoke(downloadHandler, downloadEvent({ object_name: "../../etc/passwd" }));

    expect(reply.status).toBe(400);
    expect(errorBodySchema.parse(reply.body).field).toBe("object_name");
  });
});
