import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { hduAt, readFitsImage, type FitsImage } from "@archive/core/fits/fitsImage";
import { primaryHeaderCards, unpackFz, writeFitsImage } from "@archive/core/fits/fitsWriter";
import { card } from "../../support/fits";
import { compressedFixture, differingPixels, expectedFixture, fixtureInfo, fixtureNames, fixturePath } from "./fitsFixtures";

/** Keywords astropy 5.2 leaves in the image header though they describe the compressed table. */
const ASTROPY_LEFTOVERS = ["ZDITHER0", "THEAP"];
/** Its one other difference: a scaled integer image becomes float32 (BITPIX -32, no BSCALE/BZERO) there. */
const SCALED = "i16_scaled_rice";

const keywordsOf = (cards: Record<string, unknown>, without: readonly string[]) =>
  Object.fromEntries(Object.entries(cards).filter(([keyword]) => !without.includes(keyword)));

describe("unpackFz", () => {
  it.each(fixtureNames.filter((name) => name !== SCALED))("unpacks %s to the header and pixels astropy writes", (name) => {
    // Prepare
    const expected = expectedFixture(name);
    const theirs = hduAt(expected, 0);

    // Act
    const plain = unpackFz(compressedFixture(name));

    // Assess
    const ours = hduAt(plain, 0);
    expect(ours.header.cards).toEqual(keywordsOf(theirs.header.cards, ASTROPY_LEFTOVERS));
    expect(ours.header.comments).toEqual(theirs.header.comments);
    expect(ours.header.history).toEqual(theirs.header.history);
    const nulls = new Set(fixtureInfo(name).source_nans);
    expect(differingPixels(readFitsImage(plain), readFitsImage(expected), nulls)).toEqual([]);
    if (nulls.size === 0) expect(plain.subarray(ours.dataStart).equals(expected.subarray(theirs.dataStart))).toBe(true);
  });

  it("keeps a scaled integer image as integers with its BSCALE and BZERO, where astropy writes floats", () => {
    // Act
    const plain = unpackFz(compressedFixture(SCALED));

    // Assess
    const { cards } = hduAt(plain, 0).header;
    expect(cards).toMatchObject({ BITPIX: 16, BSCALE: 0.5, BZERO: 100 });
    expect(differingPixels(readFitsImage(plain), readFitsImage(expectedFixture(SCALED)))).toEqual([]);
  });

  it("writes 16-bit unsigned data as BITPIX 16 with BZERO 32768, cards in 2880-byte blocks, data padded with zeros", () => {
    // Act
    const plain = unpackFz(compressedFixture("u16_rice"));

    // Assess
    const { header, cards, dataStart } = hduAt(plain, 0);
    expect(cards.slice(0, 7).map((text) => text.trimEnd())).toEqual([
      "SIMPLE  =                    T / conforms to FITS standard",
      "BITPIX  =                   16 / array data type",
      "NAXIS   =                    2 / number of array dimensions",
      "NAXIS1  =                  100",
      "NAXIS2  =                   80",
      "BSCALE  =                    1",
      "BZERO   =                32768",
    ]);
    expect(header.cards).not.toHaveProperty("EXTNAME");
    expect(plain.length % 2880).toBe(0);
    expect(dataStart).toBe(2880);
    expect(plain.toString("latin1", cards.length * 80, cards.length * 80 + 3)).toBe("END");
    expect(plain.subarray(dataStart + 100 * 80 * 2).every((byte) => byte === 0)).toBe(true);
    // the saturated patch: 65535 is stored as 32767, big-endian
    expect(plain.readInt16BE(dataStart + (30 * 100 + 5) * 2)).toBe(32767);
  });
});

describe("writeFitsImage", () => {
  const floats: FitsImage = {
    bitpix: -32,
    axes: [3, 2],
    pixels: new Float32Array([1.5, -2, Number.NaN, 0, 1e30, -7.25]),
    bscale: 1,
    bzero: 0,
    blank: null,
  };

  it("writes an image under the given cards, replacing the structural ones and dropping stale checksums", () => {
    // Prepare
    const cards = [
      card("XTENSION", "IMAGE"),
      card("BITPIX", 8),
      card("NAXIS", 1),
      card("NAXIS1", 99),
      card("PCOUNT", 0),
      card("GCOUNT", 1),
      card("OBJECT", "M 42", "target"),
      card("BLANK", -1),
      card("CHECKSUM", "abc"),
      "HISTORY calibrated",
    ];

    // Act
    const file = writeFitsImage(cards, floats);

    // Assess
    const { header, cards: written } = hduAt(file, 0);
    expect(written.map((text) => text.slice(0, 8).trimEnd())).toEqual(["SIMPLE", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "OBJECT", "HISTORY"]);
    expect(header.cards).toMatchObject({ BITPIX: -32, NAXIS1: 3, NAXIS2: 2, OBJECT: "M 42" });
    expect([...readFitsImage(file).pixels]).toEqual([...floats.pixels]);
  });

  it("adds BZERO and BLANK after NAXISn when the cards lack them, and replaces a BZERO that disagrees", () => {
    // Prepare
    const image: FitsImage = { bitpix: 16, axes: [2, 1], pixels: new Int16Array([-32768, 5]), bscale: 1, bzero: 32768, blank: -32768 };

    // Act
    const added = primaryHeaderCards([card("OBJECT", "x")], image);
    const replaced = primaryHeaderCards([card("OBJECT", "x"), card("BZERO", 0)], image);

    // Assess
    expect(added.slice(5).map((text) => text.trimEnd())).toEqual([
      "BZERO   =                32768",
      "BLANK   =               -32768",
      "OBJECT  = 'x       '",
    ]);
    expect(replaced.slice(5).map((text) => text.trimEnd())).toEqual([
      "BLANK   =               -32768",
      "OBJECT  = 'x       '",
      "BZERO   =                32768",
    ]);
  });
});

const astropyPython = "/usr/bin/python3";
const hasAstropy = existsSync(astropyPython) && spawnSync(astropyPython, ["-c", "import astropy.io.fits"]).status === 0;

/** Reads each unpacked file and astropy's own plain file with astropy and compares them: one line per file. */
const READ_BACK = `
import json, sys
import numpy as np
from astropy.io import fits
for name, theirs, plain, nulls in json.loads(sys.stdin.read()):
    expected, ours = fits.getdata(theirs), fits.getdata(plain)
    header = fits.getheader(plain)
    expected, ours = np.array(expected, dtype=float).ravel(), np.array(ours, dtype=float).ravel()
    keep = np.ones(expected.size, bool); keep[nulls] = False
    same = expected.shape == ours.shape and np.array_equal(expected[keep], ours[keep], equal_nan=True)
    print(json.dumps([name, bool(same), bool(np.isnan(ours[nulls]).all()), header["NAXIS"]]))
`;

describe("astropy reading an unpacked file", () => {
  it.skipIf(!hasAstropy)("reads every unpacked fixture back as the image it reads from its own plain file", () => {
    // Prepare
    const directory = mkdtempSync(join(tmpdir(), "unpacked-"));
    try {
      const files = fixtureNames.map((name) => {
        const plain = join(directory, `${name}.fits`);
        writeFileSync(plain, unpackFz(compressedFixture(name)));
        return [name, fixturePath(`${name}.expected.fits`), plain, fixtureInfo(name).source_nans];
      });

      // Act
      const run = spawnSync(astropyPython, ["-c", READ_BACK], { input: JSON.stringify(files), encoding: "utf8" });

      // Assess
      expect(run.stderr).toBe("");
      const results = run.stdout.trim().split("\n").map((line) => JSON.parse(line) as [string, boolean, boolean, number]);
      expect(results.filter(([, same, nulls]) => !same || !nulls)).toEqual([]);
      expect(results).toHaveLength(files.length);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
