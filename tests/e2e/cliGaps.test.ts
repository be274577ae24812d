import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { demoExposure } from "@archive/cli/demoExposure";
import { uploadFile } from "@archive/cli/upload";
import { startLocalArchive, type LocalArchive } from "@archive/local/archive";
import { findFreePortRange } from "@archive/local/ports";
import { runArchiveCli as archive, tempStateDir, uniqueSite } from "./harness";

// `npx archive gaps` as a user runs it, against a local archive holding a night with holes in two instruments' counters.
describe("npx archive gaps", () => {
  let state: Awaited<ReturnType<typeof tempStateDir>>;
  let local: LocalArchive;
  const site = uniqueSite();
  // Counters the site's exposures of 2024-03-01 carry, per instrument; the holes are what gaps must list.
  const night = { cam01: [100, 101, 104, 105, 106, 110], cam02: [7, 9] } as const;

  beforeAll(async () => {
    state = await tempStateDir("cli-gaps");
    local = await startLocalArchive({ port: await findFreePortRange(), stateDir: state.path, logLevel: "SILENT" });
    const uploads = Object.entries(night).flatMap(([instrument, counters]) =>
      counters.map((counter, index) => ({ instrument, counter, captureTime: new Date(Date.UTC(2024, 2, 1, 3, index)) })),
    );
    // The header text of each exposure is enough to make its row, as a site's first upload does.
    for (const { instrument, counter, captureTime } of uploads) {
      const exposure = await demoExposure({ site, instrument, counter, captureTime, seed: counter, jpgWidth: 60 });
      const header = exposure.files.find((file) => file.name.endsWith(".txt"));
      if (!header) throw new Error(`the demo exposure ${exposure.baseFilename} has no header text`);
      await uploadFile({ api: local.url }, { fileName: header.name, bytes: header.bytes, directory: "data" });
    }
    // Another day's counters, which must not fill this day's holes.
    const nextDay = await demoExposure({ site, instrument: "cam01", counter: 102, captureTime: new Date(Date.UTC(2024, 2, 2, 3)), seed: 1, jpgWidth: 60 });
    const nextHeader = nextDay.files.find((file) => file.name.endsWith(".txt"));
    if (nextHeader) await uploadFile({ api: local.url }, { fileName: nextHeader.name, bytes: nextHeader.bytes, directory: "data" });
    await local.dispatcher.whenIdle();
  }, 120_000);

  afterAll(async () => {
    await local?.stop();
    await state?.remove();
  });

  it("prints each instrument's missing counter ranges of the day, without a token locally", async () => {
    const result = await archive("gaps", "--site", site, "--day", "20240301", "--api", local.url);

    expect(result).toMatchObject({ code: 0 });
    expect(result.stdout.trim().split("\n")).toEqual([
      `${site} 20240301`,
      "cam01\t00000100-00000110\t6 exposures\t5 missing: 00000102-00000103, 00000107-00000109",
      "cam02\t00000007-00000009\t2 exposures\t1 missing: 00000008",
    ]);
  });

  it("prints the API's JSON with --json", async () => {
    const result = await archive("gaps", "--site", site, "--day", "20240301", "--json", "--api", local.url);

    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      site,
      day: "20240301",
      instruments: [
        { instrument: "cam01", first: 100, last: 110, exposures: 6, missing: [{ from: 102, to: 103 }, { from: 107, to: 109 }] },
        { instrument: "cam02", first: 7, last: 9, exposures: 2, missing: [{ from: 8, to: 8 }] },
      ],
    });
  });

  it("answers a day that is no calendar date with the API's reason, naming day, and exit code 1", async () => {
    const result = await archive("gaps", "--site", site, "--day", "20241340", "--api", local.url);

    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/400: day must be a calendar date/);
  });

  it("counts yesterday's gaps of every site once a day, as the stage's scheduled function does, and shows the run in /health", async () => {
    const yesterday = new Date(Date.now() - 86_400_000);
    yesterday.setUTCHours(2, 0, 0, 0);
    for (const counter of [30, 33]) {
      const exposure = await demoExposure({ site, instrument: "cam01", counter, captureTime: yesterday, seed: counter, jpgWidth: 60 });
      const header = exposure.files.find((file) => file.name.endsWith(".txt"));
      if (!header) throw new Error(`the demo exposure ${exposure.baseFilename} has no header text`);
      await uploadFile({ api: local.url }, { fileName: header.name, bytes: header.bytes, directory: "data" });
    }
    await local.dispatcher.whenIdle();

    const run = await local.schedules.runNow("counter-gaps");

    const day = yesterday.toISOString().slice(0, 10).replaceAll("-", "");
    expect(run.result).toMatchObject({ day, sites: expect.arrayContaining([{ site, missing: 2 }]) });
    const health = (await (await fetch(`${local.url}/health`)).json()) as { scheduledJobs: unknown[] };
    expect(health.scheduledJobs).toContainEqual(expect.objectContaining({ name: "counter-gaps", result: run.result }));
  });

  it("answers a malformed day with the usage and exit code 2", async () => {
    const result = await archive("gaps", "--site", site, "--day", "2024-03-01");

    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--day is YYYYMMDD");
  });
});
