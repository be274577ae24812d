import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { makeThumbnail } from "@archive/core/exposures/thumbnails";
import { InvalidInputError } from "@archive/core/platform/errors";

/** A diagonal gradient, so a thumbnail's pixels can be told apart from a blank one. */
function gradient(width: number, height: number, channels: 1 | 3): Buffer {
  const pixels = Buffer.alloc(width * height * channels);
  for (let i = 0; i < pixels.length; i += 1) {
    const pixel = Math.floor(i / channels);
    pixels[i] = ((pixel % width) + Math.floor(pixel / width) + (i % channels) * 60) % 256;
  }
  return pixels;
}

/** A jpg source of the gradient; sharp would write one channel as sRGB without the b-w. */
function jpgOf(width: number, height: number, channels: 1 | 3) {
  return sharp(gradient(width, height, channels), { raw: { width, height, channels } }).toColourspace(
    channels === 1 ? "b-w" : "srgb",
  );
}

async function shapeOf(jpg: Buffer) {
  const { format, width, height, channels } = await sharp(jpg).metadata();
  return { format, width, height, channels };
}

describe("makeThumbnail", () => {
  it.each([
    ["a baseline greyscale jpg", () => jpgOf(768, 512, 1).jpeg({ quality: 90 }).toBuffer()],
    ["a progressive greyscale jpg", () => jpgOf(768, 512, 1).jpeg({ progressive: true }).toBuffer()],
    [
      "a greyscale jpg with an EXIF segment before its frame",
      () => jpgOf(768, 512, 1).withExif({ IFD0: { Artist: "sro" } }).jpeg().toBuffer(),
    ],
  ])("%s gets a greyscale jpg 128 px high with its aspect kept", async (_, make) => {
    // Prepare
    const medium = await make();

    // Act
    const thumbnail = await makeThumbnail(medium, 128);

    // Assess
    expect(await shapeOf(thumbnail)).toEqual({ format: "jpeg", width: 192, height: 128, channels: 1 });
  });

  it("a colour jpg gets a colour jpg 128 px high with its aspect kept", async () => {
    // Prepare
    const medium = await jpgOf(500, 200, 3).jpeg().toBuffer();

    // Act
    const thumbnail = await makeThumbnail(medium, 128);

    // Assess
    expect(await shapeOf(thumbnail)).toEqual({ format: "jpeg", width: 320, height: 128, channels: 3 });
  });

  it("a greyscale thumbnail keeps the picture: its pixels match a lanczos resize of the medium jpg", async () => {
    // Prepare
    const medium = await jpgOf(768, 512, 1).jpeg({ quality: 95 }).toBuffer();
    const expected = await sharp(medium).resize({ height: 128 }).toColourspace("b-w").raw().toBuffer();

    // Act
    const thumbnail = await sharp(await makeThumbnail(medium, 128)).toColourspace("b-w").raw().toBuffer();

    // Assess
    const error = thumbnail.reduce((sum, value, i) => sum + Math.abs(value - (expected[i] ?? 0)), 0);
    expect(thumbnail.length).toBe(expected.length);
    expect(error / thumbnail.length).toBeLessThan(3);
  });

  it.each([
    ["bytes that are not a jpg", () => Promise.resolve(Buffer.from("this is not a jpeg"))],
    ["a jpg cut off inside its header", async () => (await jpgOf(768, 512, 1).jpeg().toBuffer()).subarray(0, 150)],
  ])("%s are bad input", async (_, make) => {
    // Prepare
    const medium = await make();

    // Act
    const made = makeThumbnail(medium, 128);

    // Assess
    await expect(made).rejects.toBeInstanceOf(InvalidInputError);
    await expect(made).rejects.toMatchObject({ code: "corrupt_jpg" });
  });
});
