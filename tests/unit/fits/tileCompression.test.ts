import { describe, expect, it } from "vitest";
import { readFitsImage } from "@archive/core/fits/fitsImage";
import { decodeTileCompressedImage, readCompressedImageHdu, riceDecode } from "@archive/core/fits/tileCompression";
import { InvalidInputError } from "@archive/core/platform/errors";
import { card } from "../../support/fits";
import { compressedFixture, differingPixels, expectedFixture, fixtureInfo, physical } from "./fitsFixtures";

const decode = (name: string) => decodeTileCompressedImage(readCompressedImageHdu(compressedFixture(name)));

/** [fixture, what it holds]: every file of tests/fixtures/fits, each compared with astropy's decoding of it. */
const cases: Array<[string, string]> = [
  ["u16_rice", "RICE_1, unsigned 16-bit (BZERO 32768), a saturated patch"],
  ["u16_gzip1", "GZIP_1, unsigned 16-bit"],
  ["u16_gzip2", "GZIP_2 (byte-shuffled), unsigned 16-bit"],
  ["u16_rice_tiles", "RICE_1 in 32x16 tiles, partial tiles at the edges"],
  ["i16_rice", "RICE_1, signed 16-bit"],
  ["i16_blank_gzip2_tiles", "GZIP_2 in 20x16 tiles, BLANK pixels"],
  ["i16_scaled_rice", "RICE_1, 16-bit with BSCALE 0.5 and BZERO 100"],
  ["i16_cube_rice_tiles", "RICE_1, a 30x20x3 cube in 16x8x2 tiles"],
  ["i16_nocompress", "NOCOMPRESS: every tile in UNCOMPRESSED_DATA"],
  ["u8_rice", "RICE_1, 8-bit (BYTEPIX 1), noise and saturated rows"],
  ["u8_gzip1", "GZIP_1, 8-bit"],
  ["i32_rice", "RICE_1, 32-bit, a full-range row and constant rows"],
  ["i32_gzip2", "GZIP_2, 32-bit"],
  ["u32_gzip1", "GZIP_1, unsigned 32-bit (BZERO 2^31)"],
  ["f32_rice_dither1", "RICE_1 floats, SUBTRACTIVE_DITHER_1, a row in GZIP_COMPRESSED_DATA, NaNs"],
  ["f32_rice_dither1_tiles", "RICE_1 floats, SUBTRACTIVE_DITHER_1 in 16x12 tiles, ZDITHER0 9999"],
  ["f32_rice_dither2", "RICE_1 floats, SUBTRACTIVE_DITHER_2 with exact zeros"],
  ["f32_gzip1_dither1", "GZIP_1 floats, SUBTRACTIVE_DITHER_1"],
  ["f32_gzip2_nodither", "GZIP_2 floats, NO_DITHER"],
  ["f32_gzip2_lossless", "GZIP_2 floats, not quantized"],
  ["f32_mixed_tiles", "GZIP_1 floats quantized by hand: Q descriptors, ZBLANK column, THEAP, UNCOMPRESSED_DATA"],
  ["f64_rice_dither1", "RICE_1 doubles, SUBTRACTIVE_DITHER_1"],
  ["f64_gzip1_lossless", "GZIP_1 doubles, not quantized"],
];

describe("decodeTileCompressedImage", () => {
  it.each(cases)("decodes %s (%s) pixel for pixel as astropy does", (name) => {
    // Prepare
    const nulls = new Set(fixtureInfo(name).source_nans);
    const expected = readFitsImage(expectedFixture(name));

    // Act
    const image = decode(name);

    // Assess
    expect(image.axes).toEqual(expected.axes);
    expect(differingPixels(image, expected, nulls)).toEqual([]);
    for (const i of nulls) expect(image.pixels[i]).toBeNaN();
  });

  it("keeps 16-bit unsigned pixels as the stored signed integers with BZERO 32768", () => {
    // Act
    const image = decode("u16_rice");

    // Assess
    expect(image).toMatchObject({ bitpix: 16, axes: [100, 80], bscale: 1, bzero: 32768, blank: null });
    expect(image.pixels).toBeInstanceOf(Int16Array);
    // the saturated patch (rows 30–35, x 0–69) is 65535, stored as 32767
    expect(image.pixels[30 * 100 + 5]).toBe(32767);
    expect(physical(image, 35 * 100 + 69)).toBe(65535);
  });

  it("gives BLANK integer pixels their stored value and names it", () => {
    // Act
    const image = decode("i16_blank_gzip2_tiles");

    // Assess
    expect(image.blank).toBe(-32768);
    expect(image.pixels[5 * 50 + 5]).toBe(-32768);
    expect(physical(image, 38 * 50 + 49)).toBeNaN();
  });

  it("turns a quantized pixel that was NaN into NaN, though astropy 5.2 flags none (no ZBLANK, stored as -2^31)", () => {
    // Prepare: astropy decodes the pixel that was NaN (row 30, x 17) as a number far below the image
    const astropy = readFitsImage(expectedFixture("f32_rice_dither1"));
    const wasNaN = 30 * 50 + 17;

    // Act
    const image = decode("f32_rice_dither1");

    // Assess
    expect(fixtureInfo("f32_rice_dither1").source_nans).toContain(wasNaN);
    expect(astropy.pixels[wasNaN]).toBeLessThan(-1e6);
    expect(image.pixels[wasNaN]).toBeNaN();
  });

  it("takes NaN from a ZBLANK column", () => {
    // Act: row 2, x 7 holds ZBLANK
    const image = decode("f32_mixed_tiles");

    // Assess
    expect(image.pixels[2 * 25 + 7]).toBeNaN();
    expect(Number.isNaN(image.pixels[2 * 25 + 6])).toBe(false);
  });

  it("restores a row cfitsio could not quantize from GZIP_COMPRESSED_DATA exactly", () => {
    // Act: row 4 is constant 7.0, which cfitsio stores losslessly
    const image = decode("f32_rice_dither1");

    // Assess
    expect([...image.pixels.subarray(4 * 50, 5 * 50)]).toEqual(new Array<number>(50).fill(7));
  });

  it("restores exact zeros with SUBTRACTIVE_DITHER_2", () => {
    // Act: row 35, x 5–24 were 0.0
    const image = decode("f32_rice_dither2");

    // Assess
    expect([...image.pixels.subarray(35 * 50 + 5, 35 * 50 + 25)]).toEqual(new Array<number>(20).fill(0));
  });

  it("decodes into a caller's array, so a writer can decode straight into its output", () => {
    // Prepare
    const hdu = readCompressedImageHdu(compressedFixture("u16_rice_tiles"));
    const into = new Int16Array(100 * 80);

    // Act
    const image = decodeTileCompressedImage(hdu, into);

    // Assess
    expect(image.pixels).toBe(into);
    expect(differingPixels(image, readFitsImage(expectedFixture("u16_rice_tiles")))).toEqual([]);
  });
});

describe("readCompressedImageHdu", () => {
  it("describes the image and keeps its header cards as written, without the table's and the compression's", () => {
    // Act
    const hdu = readCompressedImageHdu(compressedFixture("u16_rice"));

    // Assess
    expect(hdu).toMatchObject({ bitpix: 16, axes: [100, 80], compression: "RICE_1", quantization: "NONE" });
    const keywords = hdu.imageCards.map((text) => text.slice(0, 8).trimEnd());
    expect(keywords).toEqual(["BSCALE", "BZERO", "OBJECT", "EXPTIME", "FILTER", "COMMENT", "HISTORY"]);
    expect(hdu.imageCards[3]).toBe("EXPTIME =                 30.0 / [s] exposure time".padEnd(80));
  });

  it("names the quantization of floats, and takes floats without ZSCALE/ZZERO columns as stored losslessly", () => {
    // Act
    const dithered = readCompressedImageHdu(compressedFixture("f32_rice_dither2"));
    const lossless = readCompressedImageHdu(compressedFixture("f32_gzip2_lossless"));

    // Assess
    expect(dithered).toMatchObject({ bitpix: -32, quantization: "SUBTRACTIVE_DITHER_2" });
    expect(lossless.tableHeader.cards.ZQUANTIZ).toBe("NO_DITHER");
    expect(lossless.quantization).toBe("NONE");
  });

  it("refuses a file with no tile-compressed image as bad input", () => {
    // Act
    const reading = () => readCompressedImageHdu(expectedFixture("u16_rice"));

    // Assess
    expect(reading).toThrow(InvalidInputError);
    expect(reading).toThrow(/no tile-compressed image/);
  });

  it("refuses a compression it does not decode, naming it", () => {
    // Prepare: ZCMPTYPE changed to HCOMPRESS_1
    const file = Buffer.from(compressedFixture("u16_rice"));
    const at = file.indexOf("ZCMPTYPE= 'RICE_1  '");
    file.write(card("ZCMPTYPE", "HCOMPRESS_1"), at, "latin1");

    // Act
    const reading = () => readCompressedImageHdu(file);

    // Assess
    expect(reading).toThrow(expect.objectContaining({ code: "unsupported_fits", message: expect.stringMatching(/HCOMPRESS_1/) }));
  });

  it("refuses a file cut short inside the heap as corrupt", () => {
    // Prepare
    const whole = compressedFixture("u16_rice");
    const cut = whole.subarray(0, whole.length - 5000);

    // Act
    const decoding = () => decodeTileCompressedImage(readCompressedImageHdu(cut));

    // Assess
    expect(decoding).toThrow(expect.objectContaining({ code: "corrupt_fits", message: expect.stringMatching(/outside the file/) }));
  });
});

describe("riceDecode", () => {
  it("reads a hand-made stream: first pixel raw, a block of zero differences, then Rice-coded differences", () => {
    // Prepare: 16-bit, block size 4. First value 1000 (0x03E8). Block 1: FS code 0 (4 bits 0000) = all equal.
    // Block 2: FS code 1 (0001 → fs 0): differences +1, -1, 0, +2 mapped to 2, 1, 0, 4, unary: 001 01 1 00001.
    const bits = "0000" + "0001" + "001" + "01" + "1" + "00001";
    const padded = bits.padEnd(Math.ceil(bits.length / 8) * 8, "0");
    const stream = new Uint8Array([0x03, 0xe8, ...padded.match(/.{8}/g)?.map((byte) => parseInt(byte, 2)) ?? []]);
    const out = new Int16Array(8);

    // Act
    riceDecode(stream, out, 4, 2);

    // Assess
    expect([...out]).toEqual([1000, 1000, 1000, 1000, 1001, 1000, 1000, 1002]);
  });

  it("refuses a stream that ends before its last pixel", () => {
    // Prepare: the same start, with the Rice block cut off
    const stream = new Uint8Array([0x03, 0xe8, 0x01]);

    // Act
    const decoding = () => riceDecode(stream, new Int16Array(8), 4, 2);

    // Assess
    expect(decoding).toThrow(/ends before its last pixel/);
  });
});
