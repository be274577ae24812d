import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { demoExposure, type DemoExposure } from "@archive/cli/demoExposure";
import { startLocalArchive, type LocalArchive } from "@archive/local/archive";
import { s3EventRecord } from "@archive/local/lambdaEvents";
import { findFreePortRange } from "@archive/local/ports";
import { runArchiveCli as archive, tempStateDir } from "./harness";

const headerSchema = z.object({ cards: z.record(z.union([z.string(), z.number(), z.boolean(), z.null()])), problems: z.array(z.string()) });

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

describe("npx archive dlq", () => {
  let state: Awaited<ReturnType<typeof tempStateDir>>;
  let local: LocalArchive;

  beforeAll(async () => {
    // A dead letter the last run left in the queue journal: a delivery of an object that never arrived.
    state = await tempStateDir("cli-dlq");
    const body = JSON.stringify({ Records: [s3EventRecord(createdRecord("data/tst-demo01-20240301-00000077-EX10.jpg"), "data-ingest")] });
    const letter = {
      queue: "data-ingest-local",
      messageId: "left-by-the-last-run",
      keys: ["data/tst-demo01-20240301-00000077-EX10.jpg"],
      receiveCount: 12,
      reason: "handler threw TransientError: the database is down",
      failedAt: "2024-03-01T05:00:00.000Z",
      body,
    };
    await writeFile(join(state.path, "queues.jsonl"), `${JSON.stringify({ op: "dead", letter })}\n`);
    local = await startLocalArchive({ port: await findFreePortRange(), stateDir: state.path, logLevel: "SILENT" });
  });

  afterAll(async () => {
    await local?.stop();
    await state?.remove();
  });

  it("lists the dead letters a run left, redrives them onto their queue, and then lists none", async () => {
    const listed = await archive("dlq", "list", "--api", local.url);
    const redriven = await archive("dlq", "redrive", "--api", local.url);
    await local.dispatcher.whenIdle();
    const after = await archive("dlq", "list", "--api", local.url);

    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toMatchObject({
      count: 1,
      letters: [{ messageId: "left-by-the-last-run", keys: ["data/tst-demo01-20240301-00000077-EX10.jpg"], reason: expect.stringContaining("database") }],
    });
    expect(redriven).toMatchObject({ code: 0, stderr: expect.stringContaining("1 message(s) put back") });
    // Delivered again: the object is not in the bucket, which is bad input, acknowledged rather than dead-lettered anew.
    expect(JSON.parse(after.stdout)).toEqual({ count: 0, letters: [] });
    expect(local.dispatcher.stats().find((queue) => queue.name === "data-ingest-local")?.delivered).toBe(1);
  });
});

function createdRecord(key: string): Parameters<typeof s3EventRecord>[0] {
  return {
    eventVersion: "2.1",
    eventSource: "aws:s3",
    awsRegion: "us-east-1",
    eventTime: "2024-03-01T04:05:06.789Z",
    eventName: "ObjectCreated:Post",
    s3: { s3SchemaVersion: "1.0", bucket: { name: "data-archive-local", arn: "arn:aws:s3:::data-archive-local" }, object: { key, size: 10, eTag: "abc", sequencer: "1" } },
  };
}
