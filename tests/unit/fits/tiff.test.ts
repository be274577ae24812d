import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { makeTiff, stretchToUint16, type TiffStretch } from "@archive/core/downloads/tiff";
import type { FitsImage } from "@archive/core/fits/fitsImage";
import { decodeTileCompressedImage, readCompressedImageHdu } from "@archive/core/fits/tileCompression";
import { compressedFixture, physical } from "./fitsFixtures";

const decode = (name: string) => decodeTileCompressedImage(readCompressedImageHdu(compressedFixture(name)));

/** The TIFF's pixels as sharp decodes them: 16-bit grey (without grey16, sharp would hand back 8-bit sRGB). */
async function tiffPixels(tiff: Buffer): Promise<Uint16Array> {
  const raw = await sharp(tiff).toColourspace("grey16").raw({ depth: "ushort" }).toBuffer();
  return new Uint16Array(Uint8Array.from(raw).buffer);
}

/** The grey level the stretch should give FITS pixel (x, y), worked out here from the physical values. */
function expectedLevel(image: FitsImage, stretch: TiffStretch, x: number, y: number): number {
  const curve = stretch === "arcsinh" ? Math.asinh : (value: number) => value;
  const values: number[] = [];
  for (let i = 0; i < (image.axes[0] ?? 0) * (image.axes[1] ?? 0); i++) {
    const value = physical(image, i);
    if (Number.isFinite(value)) values.push(value);
  }
  const low = curve(Math.min(...values));
  const high = curve(Math.max(...values));
  return Math.round(((curve(physical(image, y * (image.axes[0] ?? 0) + x)) - low) / (high - low)) * 65535);
}

/** TIFF index of FITS pixel (x, y): FITS row 1 is the bottom row of the picture. */
const tiffIndex = (image: FitsImage, x: number, y: number) => ((image.axes[1] ?? 0) - 1 - y) * (image.axes[0] ?? 0) + x;

describe("makeTiff", () => {
  it("makes a 16-bit greyscale TIFF of a frame's size, arcsinh-stretched from 0 to 65535 by default", async () => {
    // Prepare
    const image = decode("u16_rice");

    // Act
    const tiff = await makeTiff(image);

    // Assess
    const metadata = await sharp(tiff).metadata();
    expect(metadata).toMatchObject({ format: "tiff", width: 100, height: 80, channels: 1, depth: "ushort", space: "grey16" });
    const grey = await tiffPixels(tiff);
    expect(Math.min(...grey)).toBe(0);
    expect(Math.max(...grey)).toBe(65535);
    // the saturated patch (65535 ADU) is white; background pixels sit where asinh puts them
    expect(grey[tiffIndex(image, 5, 30)]).toBe(65535);
    for (const [x, y] of [[0, 0], [99, 0], [50, 40], [7, 79]] as const) {
      expect(grey[tiffIndex(image, x, y)]).toBe(expectedLevel(image, "arcsinh", x, y));
    }
  });

  it("stretches linearly from the smallest to the largest value", async () => {
    // Prepare
    const image = decode("i32_rice");

    // Act
    const grey = await tiffPixels(await makeTiff(image, { stretch: "linear" }));

    // Assess
    for (const [x, y] of [[0, 0], [3, 10], [20, 22], [49, 39]] as const) {
      expect(grey[tiffIndex(image, x, y)]).toBe(expectedLevel(image, "linear", x, y));
    }
  });

  it("makes NaN pixels black and leaves them out of the stretch", async () => {
    // Prepare: row 30 x 17 and row 31 x 40–42 are NaN
    const image = decode("f32_gzip2_lossless");

    // Act
    const grey = await tiffPixels(await makeTiff(image, { stretch: "linear", compression: "deflate" }));

    // Assess
    expect(grey[tiffIndex(image, 17, 30)]).toBe(0);
    expect(grey[tiffIndex(image, 41, 31)]).toBe(0);
    expect(Math.max(...grey)).toBe(65535);
    expect(grey[tiffIndex(image, 10, 10)]).toBe(expectedLevel(image, "linear", 10, 10));
  });

  it("makes BLANK pixels black and leaves them out of the stretch", async () => {
    // Prepare: row 5 x 5–8 hold BLANK (-32768), far below every other value
    const image = decode("i16_blank_gzip2_tiles");

    // Act
    const grey = await tiffPixels(await makeTiff(image));

    // Assess
    expect(grey[tiffIndex(image, 6, 5)]).toBe(0);
    expect(grey[tiffIndex(image, 20, 20)]).toBe(expectedLevel(image, "arcsinh", 20, 20));
    expect(grey.filter((level) => level === 0).length).toBeLessThan(10);
  });
});

describe("stretchToUint16", () => {
  it("makes an image of one value all black", () => {
    // Prepare
    const flat: FitsImage = { bitpix: 16, axes: [4, 3], pixels: new Int16Array(12).fill(17), bscale: 1, bzero: 32768, blank: null };

    // Act
    const grey = stretchToUint16(flat, "arcsinh");

    // Assess
    expect([...grey]).toEqual(new Array<number>(12).fill(0));
  });

  it("stretches doubles, skipping infinities, as it does integers", () => {
    // Prepare
    const pixels = new Float64Array([1, 10, 100, Number.POSITIVE_INFINITY, 1000, Number.NEGATIVE_INFINITY]);
    const image: FitsImage = { bitpix: -64, axes: [3, 2], pixels, bscale: 1, bzero: 0, blank: null };

    // Act
    const grey = stretchToUint16(image, "arcsinh");

    // Assess: row 2 (1000 at x 1) comes first
    const level = (value: number) => Math.round(((Math.asinh(value) - Math.asinh(1)) / (Math.asinh(1000) - Math.asinh(1))) * 65535);
    expect([...grey]).toEqual([0, 65535, 0, 0, level(10), level(100)]);
  });
});
