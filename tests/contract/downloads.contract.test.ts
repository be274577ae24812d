import { readFile } from "node:fs/promises";
import { Readable } from "node:stream";
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { fromBuffer, type Entry, type ZipFile } from "yauzl";
import { z } from "zod";
import { bunzip2Chunks } from "@archive/core/fits/compression";
import { readFitsImage } from "@archive/core/fits/fitsImage";
import { headerFile, jpg, postJson, upload, uniqueSite, useLocalArchive } from "./harness";

// ../shared/CONTRACTS.md, POST /download and POST /downloadzip: the answer is the URL as a JSON string; what it links
// is opened and compared pixel for pixel with what astropy decodes from the same .fits.fz.

const world = useLocalArchive();
const fixture = (name: string) => readFile(new URL(`../fixtures/fits/${name}`, import.meta.url));

const site = uniqueSite();
const base = (counter: number) => `${site}-cam01-20240312-${String(counter).padStart(8, "0")}`;
const urlSchema = z.string().url();

async function fetchBytes(url: string): Promise<Buffer> {
  const response = await fetch(url);
  expect(response.status, url).toBe(200);
  return Buffer.from(await response.arrayBuffer());
}

async function bunzip2(bytes: Buffer): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of bunzip2Chunks(Readable.from([bytes]))) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function zipEntries(bytes: Buffer): Promise<Map<string, Buffer>> {
  const zip = await new Promise<ZipFile>((resolve, reject) =>
    fromBuffer(bytes, { lazyEntries: true }, (error, file) => (error ? reject(error) : resolve(file))),
  );
  const entries = new Map<string, Buffer>();
  await new Promise<void>((resolve, reject) => {
    zip.on("entry", (entry: Entry) => {
      zip.openReadStream(entry, (error, stream) => {
        if (error) return reject(error);
        const chunks: Buffer[] = [];
        stream.on("data", (chunk: Buffer) => chunks.push(chunk));
        stream.on("end", () => {
          entries.set(entry.fileName, Buffer.concat(chunks));
          zip.readEntry();
        });
      });
    });
    zip.on("end", resolve);
    zip.on("error", reject);
    zip.readEntry();
  });
  return entries;
}

beforeAll(async () => {
  const header = (b: string, capture: string) =>
    headerFile(`${b}-EX00.txt`, [
      { keyword: "DATE-OBS", value: capture },
      { keyword: "FILTER", value: "r" },
    ]);
  await upload(world, [
    header(base(1), "2024-03-12T03:00:00"),
    { name: `${base(1)}-EX10.fits.fz`, bytes: await fixture("u16_rice.fits.fz") },
    { name: `${base(1)}-EX10.jpg`, bytes: await jpg() },
    header(base(2), "2024-03-12T04:00:00"),
    { name: `${base(2)}-EX10.fits.fz`, bytes: await fixture("i16_rice.fits.fz") },
    { name: `${base(2)}-EX01.fits.fz`, bytes: await fixture("u16_gzip2.fits.fz") },
    header(base(3), "2024-03-13T04:00:00"),
    { name: `${base(3)}-EX10.fits.fz`, bytes: await fixture("u16_gzip1.fits.fz") },
  ]);
}, 180_000);

describe("POST /download", () => {
  it("answers a .fits.fz as the URL (a JSON string) of a plain FITS with the same pixels", async () => {
    const reply = await postJson(world, "/download", { object_name: `${base(1)}-EX10.fits.fz`, s3_directory: "data" });
    expect(reply.status).toBe(200);
    const url = urlSchema.parse(reply.body);
    expect(new URL(url).pathname).toMatch(new RegExp(`/downloads/fits/${base(1)}-EX10\\.fits$`));
    expect(new URL(url).searchParams.get("X-Amz-Expires")).toBe(String(5 * 86_400));
    const plain = readFitsImage(await fetchBytes(url));
    const expected = readFitsImage(await fixture("u16_rice.expected.fits"));
    expect(plain.axes).toEqual(expected.axes);
    expect(plain.bzero).toBe(32768);
    expect(Array.from(plain.pixels)).toEqual(Array.from(expected.pixels));
  });

  it("makes the conversion once and reuses it", async () => {
    const body = { object_name: `${base(1)}-EX10.fits.fz` };
    const first = urlSchema.parse((await postJson(world, "/download", body)).body);
    const again = urlSchema.parse((await postJson(world, "/download", body)).body);
    expect(new URL(again).pathname).toBe(new URL(first).pathname);
  });

  it("serves a .fits.bz2 that was never uploaded from the exposure's .fits.fz", async () => {
    const reply = await postJson(world, "/download", { object_name: `${base(2)}-EX10.fits.bz2` });
    expect(reply.status).toBe(200);
    const plain = readFitsImage(await fetchBytes(urlSchema.parse(reply.body)));
    expect(Array.from(plain.pixels)).toEqual(Array.from(readFitsImage(await fixture("i16_rice.expected.fits")).pixels));
  });

  it("makes a bzip2'd 16-bit TIFF with the asked-for stretch, named by the FITS file's filter, stretch and file", async () => {
    const reply = await postJson(world, "/download", {
      object_name: `${base(1)}-EX10.fits.fz`,
      image_type: "tif",
      stretch: "linear",
    });
    expect(reply.status).toBe(200);
    const url = urlSchema.parse(reply.body);
    expect(new URL(url).pathname).toMatch(new RegExp(`/downloads/tif/Ha-linear-${base(1)}-EX10\\.tif\\.bz2$`));
    const tiff = await bunzip2(await fetchBytes(url));
    const expected = readFitsImage(await fixture("u16_rice.expected.fits"));
    const [width = 0, height = 0] = expected.axes;
    expect(await sharp(tiff).metadata()).toMatchObject({ format: "tiff", width, height, channels: 1, depth: "ushort" });
    const data = await sharp(tiff).toColourspace("grey16").raw({ depth: "ushort" }).toBuffer();
    const pixels = new Uint16Array(Uint8Array.from(data).buffer);
    // Linear: the physical values from the smallest (0) to the largest (65535); FITS row 1 at the bottom.
    const physical = Array.from(expected.pixels, (stored) => stored * expected.bscale + expected.bzero);
    const low = Math.min(...physical);
    const high = Math.max(...physical);
    for (const [x, y] of [[0, 0], [width - 1, 0], [10, 20], [width - 1, height - 1]] as const) {
      const value = physical[y * width + x] ?? Number.NaN;
      expect(pixels[(height - 1 - y) * width + x], `pixel ${x},${y}`).toBe(Math.round(((value - low) / (high - low)) * 65535));
    }
    expect(Math.max(...pixels)).toBe(65535);
  });

  it("serves any other file as it is, and answers 404 for a file the archive does not hold", async () => {
    const jpgReply = await postJson(world, "/download", { object_name: `${base(1)}-EX10.jpg` });
    expect(new URL(urlSchema.parse(jpgReply.body)).pathname).toMatch(new RegExp(`/data/${base(1)}-EX10\\.jpg$`));
    expect((await postJson(world, "/download", { object_name: `${base(9)}-EX10.fits.fz` })).status).toBe(404);
  });

  it("answers 400 naming a bad stretch", async () => {
    const reply = await postJson(world, "/download", { object_name: `${base(1)}-EX10.fits.fz`, image_type: "tif", stretch: "log" });
    expect(reply).toMatchObject({ status: 400, body: { field: "stretch" } });
  });
});

describe("POST /downloadzip", () => {
  const range = (from: string, to: string) => ({
    site,
    start_timestamp_s: Date.parse(`${from}Z`) / 1000,
    end_timestamp_s: Date.parse(`${to}Z`) / 1000,
  });

  it("zips the small FITS files of the site's exposures captured in the range", async () => {
    const reply = await postJson(world, "/downloadzip", { ...range("2024-03-12T00:00:00", "2024-03-12T23:59:59"), fits_size: "small" });
    expect(reply.status).toBe(200);
    const entries = await zipEntries(await fetchBytes(urlSchema.parse(reply.body)));
    expect([...entries.keys()].sort()).toEqual([`${base(1)}-EX10.fits.fz`, `${base(2)}-EX10.fits.fz`]);
    expect(entries.get(`${base(1)}-EX10.fits.fz`)).toEqual(await fixture("u16_rice.fits.fz"));
  });

  it("takes the large file where there is one for best", async () => {
    const reply = await postJson(world, "/downloadzip", { ...range("2024-03-12T00:00:00", "2024-03-12T23:59:59"), fits_size: "best" });
    const entries = await zipEntries(await fetchBytes(urlSchema.parse(reply.body)));
    expect([...entries.keys()].sort()).toEqual([`${base(1)}-EX10.fits.fz`, `${base(2)}-EX01.fits.fz`]);
  });

  it("answers 404 when nothing matches", async () => {
    const reply = await postJson(world, "/downloadzip", { ...range("2020-01-01T00:00:00", "2020-01-02T00:00:00"), fits_size: "small" });
    expect(reply.status).toBe(404);
  });
});
