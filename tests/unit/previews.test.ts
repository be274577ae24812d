import sharp from "sharp";
import { describe, expect, test } from "vitest";
import type { FitsImage } from "@archive/core/fits/fitsImage";
import { writeTileCompressed } from "@archive/core/fits/tileCompressedWriter";
import { decodeTileCompressedImage, readCompressedImageHdu } from "@archive/core/fits/tileCompression";
import { PREVIEW_LONG_SIDE, previewJpgOfFits } from "@archive/core/previews/fitsPreviews";
import { stretchToGrey, zscale } from "@archive/core/previews/stretch";

/** xorshift32 in [0, 1): the same frame on every run. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

/** A 16-bit unsigned frame (BZERO 32768): sky ~1000 ADU with ~20 ADU noise, 1% hot pixels at 65535. */
function skyWithHotPixels(width: number, height: number): FitsImage {
  const next = random(42);
  const pixels = new Int16Array(width * height);
  for (let i = 0; i < pixels.length; i++) {
    const noise = (next() + next() + next() + next() - 2) * 35;
    const value = next() < 0.01 ? 65535 : Math.round(1000 + noise);
    pixels[i] = value - 32768;
  }
  return { bitpix: 16, axes: [width, height], pixels, bscale: 1, bzero: 32768, blank: null };
}

const median = (values: Uint8Array) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

describe("the preview stretch (zscale)", () => {
  test("a frame with hot pixels still gives a mid-grey sky, and its hot pixels white", () => {
    const image = skyWithHotPixels(400, 300);

    const range = zscale(image);
    const grey = stretchToGrey(image, range);

    expect(range.low).toBeGreaterThan(850);
    expect(range.high).toBeLessThan(1150);
    // A min–max stretch would put this sky at grey 3 of 255: black.
    const sky = median(grey);
    expect(sky).toBeGreaterThan(50);
    expect(sky).toBeLessThan(200);
    const hot = image.pixels.findIndex((stored) => stored === 65535 - 32768);
    const [x, y] = [hot % 400, Math.floor(hot / 400)];
    expect(grey[(300 - 1 - y) * 400 + x]).toBe(255);
  });

  test("the first FITS row is the bottom row of the picture", () => {
    const pixels = new Float32Array(4 * 3).fill(0);
    pixels.fill(100, 0, 4);
    const image: FitsImage = { bitpix: -32, axes: [4, 3], pixels, bscale: 1, bzero: 0, blank: null };

    const grey = stretchToGrey(image, { low: 0, high: 100 });

    expect([...grey.subarray(8, 12)]).toEqual([255, 255, 255, 255]);
    expect([...grey.subarray(0, 4)]).toEqual([0, 0, 0, 0]);
  });

  test("undefined pixels (NaN, BLANK) are black and take no part in the range", () => {
    const pixels = new Float32Array(100).map((_, i) => (i % 10 === 0 ? Number.NaN : 500 + (i % 7)));
    const image: FitsImage = { bitpix: -32, axes: [10, 10], pixels, bscale: 1, bzero: 0, blank: null };

    const range = zscale(image);
    const grey = stretchToGrey(image, range);

    expect(Number.isFinite(range.low) && Number.isFinite(range.high)).toBe(true);
    expect(range.low).toBeGreaterThanOrEqual(500);
    expect(grey[90]).toBe(0);
  });
});

describe("the tile-compressed writer", () => {
  test.each(["GZIP_1", "GZIP_2"] as const)("writes a .fits.fz (%s) the decoder reads back pixel for pixel", (compression) => {
    const image = skyWithHotPixels(97, 31);

    const fz = writeTileCompressed(["OBJECT  = 'M31     '"], image, { compression, tileRows: 4 });
    const decoded = decodeTileCompressedImage(readCompressedImageHdu(fz));

    expect(decoded.axes).toEqual([97, 31]);
    expect(decoded.bzero).toBe(32768);
    expect(Buffer.from(decoded.pixels.buffer, decoded.pixels.byteOffset, decoded.pixels.byteLength)).toEqual(
      Buffer.from(image.pixels.buffer),
    );
  });
});

describe("a preview jpg from a FITS file", () => {
  test("is a greyscale jpg with the medium jpg's long side and the frame's aspect", async () => {
    const fz = writeTileCompressed([], skyWithHotPixels(2000, 1000), { compression: "GZIP_2", level: 1 });

    const jpg = await previewJpgOfFits(fz, "fz");

    const metadata = await sharp(jpg).metadata();
    expect(metadata).toMatchObject({ format: "jpeg", width: PREVIEW_LONG_SIDE, height: PREVIEW_LONG_SIDE / 2, channels: 1 });
    const { data } = await sharp(jpg).raw().toBuffer({ resolveWithObject: true });
    expect(median(new Uint8Array(data))).toBeGreaterThan(60);
  });

  test("a file that is not FITS is bad input", async () => {
    await expect(previewJpgOfFits(Buffer.from("not a fits file".padEnd(2880)), "fz")).rejects.toMatchObject({
      name: "InvalidInputError",
    });
  });
});
