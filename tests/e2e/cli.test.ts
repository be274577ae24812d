import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { demoExposure, type DemoExposure } from "@archive/cli/demoExposure";
import { repoRoot, tempStateDir } from "./harness";

// `npx archive` as a user runs it from the repository root: the bin npm links into node_modules/.bin.
const run = promisify(execFile);
const archiveBin = join(repoRoot, "node_modules", ".bin", "archive");
const headerSchema = z.object({ cards: z.record(z.union([z.string(), z.number(), z.boolean(), z.null()])), problems: z.array(z.string()) });

async function archive(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(archiveBin, args, { cwd: repoRoot });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = z.object({ code: z.number(), stdout: z.string(), stderr: z.string() }).safeParse(error);
    if (!failed.success) throw error;
    return failed.data;
  }
}

describe("npx archive", () => {
  let dir: Awaited<ReturnType<typeof tempStateDir>>;
  let exposure: DemoExposure;
  const pathOf = (suffix: string) => join(dir.path, `${exposure.baseFilename}${suffix}`);

  beforeAll(async () => {
    dir = await tempStateDir("cli");
    exposure = await demoExposure({ site: "tst", counter: 12345678, captureTime: new Date("2024-03-01T04:05:06.789Z"), seed: 5, jpgWidth: 120 });
    for (const file of exposure.files) await writeFile(join(dir.path, file.name), file.bytes);
  });

  afterAll(async () => {
    await dir?.remove();
  });

  it("prints the same header from a demo exposure's fits.bz2 as from its header text", async () => {
    const fits = await archive("header", pathOf("-EX10.fits.bz2"));
    const text = await archive("header", pathOf("-EX01.txt"));

    expect(fits.code).toBe(0);
    const fromFits = headerSchema.parse(JSON.parse(fits.stdout));
    const fromText = headerSchema.parse(JSON.parse(text.stdout));
    expect(fromFits.problems).toEqual([]);
    expect(fromFits.cards).toMatchObject({ SIMPLE: true, NAXIS1: 192, "DATE-OBS": "2024-03-01T04:05:06.789", SITE: "tst" });
    expect(fromFits.cards).toMatchObject(fromText.cards);
    expect(Object.keys(fromText.cards)).toEqual(
      expect.arrayContaining(["DATE-OBS", "RA", "DEC", "CRVAL1", "CRVAL2", "FILTER", "EXPTIME", "AIRMASS", "ALTITUDE", "AZIMUTH", "USERID", "USERNAME"]),
    );
  });

  it("names the demo exposure's files as a site does: header text, small fits, medium jpg", () => {
    expect(exposure.baseFilename).toBe("tst-demo01-20240301-12345678");
    expect(exposure.files.map((file) => file.name.slice(exposure.baseFilename.length))).toEqual(["-EX01.txt", "-EX10.fits.bz2", "-EX10.jpg"]);
  });

  it("answers a wrong command line with the usage and exit code 2", async () => {
    const result = await archive("upload", "--dir", "elsewhere", "some-file.jpg");

    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--dir must be one of data, info-images, allsky");
    expect(result.stderr).toContain("usage:");
  });

  it("reports a file it cannot read by name and exits non-zero", async () => {
    const result = await archive("upload", join(dir.path, "missing-EX10.jpg"), "--api", "http://127.0.0.1:9");

    expect(result.code).toBe(1);
    expect(result.stderr).toContain("missing-EX10.jpg: cannot read it (ENOENT)");
  });
});
