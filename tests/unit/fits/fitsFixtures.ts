import { readFileSync } from "node:fs";
import type { FitsImage } from "@archive/core/fits/fitsImage";

/**
 * The fixtures of tests/fixtures/fits, made by scripts/fixtures/makeFitsFixtures.py with astropy 5.2.1: NAME.fits.fz
 * and NAME.expected.fits (astropy's decoding, written as PrimaryHDU(data, header)), described in fixtures.json.
 */

const directory = new URL("../../fixtures/fits/", import.meta.url);

export interface FixtureInfo {
  made_by: "astropy" | "hand";
  expected_by: string;
  /** Flat indices of the pixels that were NaN in the source image (astropy 5.2 writes no ZBLANK for them). */
  source_nans: number[];
}

export const fixtures = JSON.parse(readFileSync(new URL("fixtures.json", directory), "utf8")) as Record<string, FixtureInfo>;

export const fixtureNames = Object.keys(fixtures).sort();

export function fixtureInfo(name: string): FixtureInfo {
  const info = fixtures[name];
  if (info === undefined) throw new Error(`no fixture ${name}`);
  return info;
}

export const compressedFixture = (name: string): Buffer => readFileSync(new URL(`${name}.fits.fz`, directory));
export const expectedFixture = (name: string): Buffer => readFileSync(new URL(`${name}.expected.fits`, directory));
export const fixturePath = (file: string): string => new URL(file, directory).pathname;

/** The physical value of pixel i: stored × BSCALE + BZERO, NaN for BLANK. */
export function physical(image: FitsImage, i: number): number {
  const stored = image.pixels[i] ?? Number.NaN;
  return image.blank !== null && stored === image.blank ? Number.NaN : stored * image.bscale + image.bzero;
}

/**
 * Indices where two images' physical values differ (NaN equals NaN); `asFloat32` rounds ours as astropy's float32
 * data are. Values at `ignore` are not compared.
 */
export function differingPixels(ours: FitsImage, theirs: FitsImage, ignore: ReadonlySet<number> = new Set()): number[] {
  const asFloat32 = theirs.bitpix === -32 && ours.bitpix !== -32;
  const differing: number[] = [];
  for (let i = 0; i < Math.max(ours.pixels.length, theirs.pixels.length); i++) {
    if (ignore.has(i)) continue;
    const a = asFloat32 ? Math.fround(physical(ours, i)) : physical(ours, i);
    const b = physical(theirs, i);
    if (!(a === b || (Number.isNaN(a) && Number.isNaN(b)))) differing.push(i);
  }
  return differing;
}
