import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import type { HeaderCard } from "@archive/cli/fitsFile";
import { getJson, headerFile, jpg, upload, uniqueSite, useLocalArchive, type SeedFile } from "./harness";

// ../shared/CONTRACTS.md, "The image package" and "Read routes", line by line, against the local archive: the
// exposures are seeded through POST /upload as a site seeds them, and read with the frontend's own calls.

const world = useLocalArchive();

/** The package's fields, exactly (CONTRACTS.md "The image package"). */
const PACKAGE_FIELDS = [
  "image_id", "base_filename", "data_type", "site", "exposure_time", "filter_used", "right_ascension", "declination",
  "azimuth", "altitude", "airmass", "fits_01_exists", "fits_10_exists", "jpg_medium_exists", "jpg_small_exists",
  "s3_directory", "username", "user_id", "fits_filename", "fits_path", "SMARTSTK", "SSTKNUM", "capture_date",
  "sort_date", "jpg_url", "jpg_thumbnail_url",
].sort();

const packageSchema = z
  .object({
    base_filename: z.string(),
    site: z.string(),
    capture_date: z.number().int(),
    sort_date: z.number().int(),
    right_ascension: z.number().nullable(),
    declination: z.number().nullable(),
    jpg_url: z.string(),
    jpg_thumbnail_url: z.string(),
    SMARTSTK: z.string(),
    SSTKNUM: z.string(),
    fits_filename: z.string(),
    fits_path: z.string(),
  })
  .passthrough();
const packagesSchema = z.array(packageSchema);

const site = uniqueSite();
const otherUser = { id: "google-oauth2|2", name: "Other Observer" };
const user = { id: "google-oauth2|1", name: "Contract Observer" };

interface Exposure {
  base: string;
  capture: string;
  cards: HeaderCard[];
  files: SeedFile[];
}

function exposure(counter: number, capture: string, extra: HeaderCard[], options: { jpg?: boolean; header?: boolean } = {}): Promise<Exposure> {
  const base = `${site}-cam01-20240312-${String(counter).padStart(8, "0")}`;
  const defaults: HeaderCard[] = [
    { keyword: "DATE-OBS", value: capture },
    { keyword: "DAY-OBS", value: "20240311" },
    { keyword: "SITEID", value: site },
    { keyword: "INSTRUME", value: "cam01" },
    { keyword: "ORIGNAME", value: `${base}-00.fits` },
    { keyword: "CRVAL1", value: 150.5 },
    { keyword: "CRVAL2", value: -20.25 },
    { keyword: "EXPTIME", value: 30 },
    { keyword: "FILTER", value: "r" },
    { keyword: "USERID", value: user.id },
    { keyword: "USERNAME", value: user.name },
  ];
  // An extra card replaces the default of its keyword.
  const cards = [...defaults.filter((card) => !extra.some((e) => e.keyword === card.keyword)), ...extra];
  return (async () => ({
    base,
    capture,
    cards,
    files: [
      ...(options.header === false ? [] : [headerFile(`${base}-EX00.txt`, cards)]),
      ...(options.jpg === false ? [] : [{ name: `${base}-EX10.jpg`, bytes: await jpg() }]),
    ],
  }))();
}

let plain: Exposure;
let stackStep1: Exposure;
let stackStep2: Exposure;
let jpgOnly: Exposure;
let headerOnly: Exposure;
let otherUsers: Exposure;
let longExposure: Exposure;
let seededAt: number;

beforeAll(async () => {
  plain = await exposure(1, "2024-03-12T03:00:00.000", [{ keyword: "SMARTSTK", value: "no" }, { keyword: "SSTKNUM", value: "0" }]);
  stackStep1 = await exposure(2, "2024-03-12T03:10:00.000", [{ keyword: "SMARTSTK", value: "1234" }, { keyword: "SSTKNUM", value: "1" }]);
  stackStep2 = await exposure(3, "2024-03-12T03:11:00.000", [{ keyword: "SMARTSTK", value: "1234" }, { keyword: "SSTKNUM", value: "2" }]);
  jpgOnly = await exposure(4, "2024-03-12T03:20:00.000", [], { header: false });
  headerOnly = await exposure(5, "2024-03-12T03:30:00.000", [], { jpg: false });
  otherUsers = await exposure(6, "2024-03-12T03:40:00.000", [
    { keyword: "USERID", value: otherUser.id },
    { keyword: "USERNAME", value: otherUser.name },
    { keyword: "FILTER", value: "Ha" },
  ]);
  longExposure = await exposure(7, "2024-03-12T04:00:00.000", [{ keyword: "EXPTIME", value: 300 }]);
  seededAt = Date.now();
  await upload(world, [plain, stackStep1, stackStep2, jpgOnly, headerOnly, otherUsers, longExposure].flatMap((e) => e.files));
}, 180_000);

const bases = (body: unknown) => packagesSchema.parse(body).map((image) => image.base_filename);

describe("the image package", () => {
  it("has exactly the contract's fields", async () => {
    const reply = await getJson(world, `/image/${plain.base}`);
    expect(reply.status).toBe(200);
    expect(Object.keys(packageSchema.parse(reply.body)).sort()).toEqual(PACKAGE_FIELDS);
  });

  it("holds right ascension in degrees (CRVAL1), dates in ms, and the header's strings", async () => {
    const image = packageSchema.parse((await getJson(world, `/image/${stackStep2.base}`)).body);
    expect(image.right_ascension).toBeCloseTo(150.5, 9);
    expect(image.declination).toBeCloseTo(-20.25, 9);
    expect(image.capture_date).toBe(Date.parse(`${stackStep2.capture}Z`));
    expect(image.sort_date).toBe(image.capture_date);
    expect(image).toMatchObject({
      fits_filename: `${stackStep2.base}-00.fits`,
      fits_path: `${site}/cam01/20240311/raw`,
      SMARTSTK: "1234",
      SSTKNUM: "2",
      s3_directory: "data",
      data_type: "EX",
      site,
      jpg_medium_exists: true,
      fits_01_exists: false,
    });
  });

  it("gives a row without a header its arrival time and empty header fields", async () => {
    const image = packageSchema.parse((await getJson(world, `/image/${jpgOnly.base}`)).body);
    expect(image.capture_date).toBeGreaterThanOrEqual(seededAt - 1000);
    expect(image.sort_date).toBe(image.capture_date);
    expect(image).toMatchObject({ fits_filename: "", fits_path: "", SMARTSTK: "", SSTKNUM: "" });
  });

  it("links the medium jpg and its thumbnail for 7 days", async () => {
    const image = packageSchema.parse((await getJson(world, `/image/${plain.base}`)).body);
    for (const link of [image.jpg_url, image.jpg_thumbnail_url]) {
      const url = new URL(link);
      expect(url.searchParams.get("X-Amz-Expires")).toBe(String(7 * 86_400));
      expect((await fetch(link)).status).toBe(200);
    }
    expect(new URL(image.jpg_url).pathname).toMatch(new RegExp(`/data/${plain.base}-EX10\\.jpg$`));
    expect(new URL(image.jpg_thumbnail_url).pathname).toMatch(new RegExp(`/data/${plain.base}-EX11\\.jpg$`));
  });
});

describe("GET /{site}/latest_images/{n}", () => {
  it("lists the site's exposures with a medium jpg, newest sort_date first", async () => {
    const reply = await getJson(world, `/${site}/latest_images/20`);
    expect(reply.status).toBe(200);
    expect(bases(reply.body)).toEqual(
      [jpgOnly, longExposure, otherUsers, stackStep2, stackStep1, plain]
        .sort((a, b) => sortDate(b) - sortDate(a))
        .map((e) => e.base),
    );
    expect(bases(reply.body)).not.toContain(headerOnly.base);
  });

  it("keeps only one user's with ?userid=, and at most n", async () => {
    expect(bases((await getJson(world, `/${site}/latest_images/20?userid=${encodeURIComponent(otherUser.id)}`)).body)).toEqual([otherUsers.base]);
    expect(bases((await getJson(world, `/${site}/latest_images/2`)).body)).toHaveLength(2);
  });

  it("answers 200 [] for a site without images, and accepts a trailing slash", async () => {
    const empty = await getJson(world, `/${uniqueSite()}/latest_images/10`);
    expect(empty).toMatchObject({ status: 200, body: [] });
    expect((await getJson(world, `/${site}/latest_images/1/`)).status).toBe(200);
  });
});

/** The jpg-only exposure's sort date is its arrival; the others' their DATE-OBS. */
function sortDate(e: Exposure): number {
  return e === jpgOnly ? seededAt + 60_000 : Date.parse(`${e.capture}Z`);
}

describe("GET /filtered_images", () => {
  const frontendDate = (iso: string) => iso.replace("T", " ").slice(0, 19);

  it("filters a site's night by capture date as the frontend sends it, and collapses smart stacks", async () => {
    const query = new URLSearchParams({
      site,
      start_date: frontendDate("2024-03-12T02:00:00"),
      end_date: frontendDate("2024-03-12T05:00:00"),
    });
    const reply = await getJson(world, `/filtered_images?${query.toString()}`);
    expect(reply.status).toBe(200);
    // Newest first; of smart stack 1234 only its last step (SSTKNUM 2) is kept; no exposure without a medium jpg.
    expect(bases(reply.body)).toEqual([longExposure, otherUsers, stackStep2, plain].map((e) => e.base));
  });

  it("accepts the older callers' date form and a trailing slash", async () => {
    const reply = await getJson(world, `/filtered_images/?site=${site}&start_date=2024-03-12+03&end_date=2024-03-12+04`);
    expect(reply.status).toBe(200);
    // 03:00 to 04:00 inclusive: the exposure captured at 04:00:00 is in.
    expect(bases(reply.body)).toEqual([longExposure, otherUsers, stackStep2, plain].map((e) => e.base));
  });

  it("matches filter, username, user_id, exposure time and a LIKE pattern on the file name", async () => {
    const ask = async (params: Record<string, string>) =>
      bases((await getJson(world, `/filtered_images?${new URLSearchParams({ site, ...params }).toString()}`)).body);
    expect(await ask({ filter: "Ha" })).toEqual([otherUsers.base]);
    expect(await ask({ username: otherUser.name })).toEqual([otherUsers.base]);
    expect(await ask({ user_id: otherUser.id })).toEqual([otherUsers.base]);
    expect(await ask({ exposure_time_min: "100" })).toEqual([longExposure.base]);
    expect(await ask({ exposure_time_max: "100", filter: "Ha" })).toEqual([otherUsers.base]);
    expect(await ask({ filename: `%-0000000${7}` })).toEqual([longExposure.base]);
  });

  it("answers 400 naming a bad value", async () => {
    const reply = await getJson(world, `/filtered_images?site=${site}&exposure_time_min=long`);
    expect(reply.status).toBe(400);
    expect(reply.body).toMatchObject({ field: "exposure_time_min" });
    expect((await getJson(world, `/filtered_images?start_date=yesterday`)).status).toBe(400);
  });
});

describe("GET /latest_image_all_sites", () => {
  it("maps each site to its newest exposure's jpg link", async () => {
    const reply = await getJson(world, "/latest_image_all_sites");
    expect(reply.status).toBe(200);
    const links = z.record(z.string()).parse(reply.body);
    const newest = packagesSchema.parse((await getJson(world, `/${site}/latest_images/1`)).body)[0];
    expect(new URL(links[site] ?? "").pathname).toBe(new URL(newest?.jpg_url ?? "").pathname);
  });
});

describe("GET /image/{base_filename}", () => {
  it("answers 404 when there is no row or no medium jpg, and accepts a trailing slash", async () => {
    expect((await getJson(world, `/image/${headerOnly.base}`)).status).toBe(404);
    expect((await getJson(world, `/image/${site}-cam01-20240312-99999999`)).status).toBe(404);
    expect((await getJson(world, `/image/${plain.base}/`)).status).toBe(200);
  });
});

describe("GET /fitsheader/{base_filename}", () => {
  it("answers the header as an object of the card strings, with the frontend's trailing slash", async () => {
    const reply = await getJson(world, `/fitsheader/${plain.base}/`);
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ SMARTSTK: "no", SSTKNUM: "0", EXPTIME: "30", FILTER: "r", "DAY-OBS": "20240311" });
  });

  it("answers 200 {} for an exposure whose header has not come, and 404 without a row", async () => {
    expect(await getJson(world, `/fitsheader/${jpgOnly.base}`)).toMatchObject({ status: 200, body: {} });
    expect((await getJson(world, `/fitsheader/${site}-cam01-20240312-99999999`)).status).toBe(404);
  });
});

describe("GET /infoimage/{site}/{channel}", () => {
  it("answers 204 when the channel shows nothing", async () => {
    const reply = await getJson(world, `/infoimage/${uniqueSite()}/2`);
    expect(reply.status).toBe(204);
    expect(reply.body).toBeUndefined();
  });

  it("answers the channel's item with its flags and a link per file", async () => {
    const base = `${site}-info01-20240312-00000042`;
    await upload(world, [{ name: `${base}-EX10.jpg`, bytes: await jpg(), directory: "info-images", channel: 2 }]);
    const reply = await getJson(world, `/infoimage/${site}/2/`);
    expect(reply.status).toBe(200);
    const item = z
      .object({ jpg_url: z.string().url(), jpg_small_url: z.string().url() })
      .passthrough()
      .parse(reply.body);
    expect(item).toMatchObject({
      site,
      channel: 2,
      base_filename: base,
      s3_directory: "info-images",
      jpg_medium_exists: true,
      jpg_small_exists: true,
      fits_01_exists: false,
      fits_10_exists: false,
    });
    expect((await fetch(item.jpg_url)).status).toBe(200);
    expect(item).not.toHaveProperty("fits_01_url");
  });
});

describe("GET /recentuploads", () => {
  it("lists the site's uploads with the full key as filename", async () => {
    const reply = await getJson(world, `/recentuploads?site=${site}`);
    expect(reply.status).toBe(200);
    const entries = z
      .array(z.object({ site: z.string(), upload_timestamp_s: z.number(), filename: z.string(), size_bytes: z.number() }).passthrough())
      .parse(reply.body);
    expect(entries.map((entry) => entry.filename)).toEqual(
      expect.arrayContaining([`data/${plain.base}-EX00.txt`, `data/${plain.base}-EX10.jpg`, `data/${plain.base}-EX11.jpg`]),
    );
    expect(entries.every((entry) => entry.site === site)).toBe(true);
    expect((await getJson(world, `/recentuploads/?site=all`)).status).toBe(200);
  });
});
