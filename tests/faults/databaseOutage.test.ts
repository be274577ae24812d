import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalArchive, type LocalArchive } from "@archive/local/archive";
import { LOCAL_RETRY } from "@archive/local/dispatcher";
import { findFreePortRange } from "@archive/local/ports";
import { fetchHealth, listenForNotices, tempStateDir, uniqueSite, uploadLogFilenames, type NoticeListener } from "../e2e/harness";
import {
  counts,
  eventually,
  makeExposures,
  siteRows,
  startOutageDatabase,
  uploadBurst,
  type OutageDatabase,
} from "./support";

// A database outage of a minute in the middle of a burst of uploads, against the local archive on a PostgreSQL of
// the suite's own that it stops as a crash would and starts again. Nothing valid may be lost, dead-lettered or
// duplicated: failed deliveries wait (1 s doubling to 60 s, LOCAL_RETRY) and pass once the database is back.
const OUTAGE_MS = 60_000;
const BURST_EXPOSURES = 20;

describe("a database outage of 60 s mid-burst", () => {
  let database: OutageDatabase;
  let archive: LocalArchive;
  let state: Awaited<ReturnType<typeof tempStateDir>>;
  let notices: NoticeListener;
  const site = uniqueSite();

  beforeAll(async () => {
    database = await startOutageDatabase();
    state = await tempStateDir("faults-outage");
    archive = await startLocalArchive({ port: await findFreePortRange(), stateDir: state.path, databaseUrl: database.url, logLevel: "SILENT" });
    notices = await listenForNotices(archive.url, site);
  });

  afterAll(async () => {
    notices?.close();
    await archive?.stop();
    await database?.remove();
    await state?.remove();
  });

  it("loses, dead-letters and duplicates nothing, and sends exactly one notice per file once it is back", async () => {
    // Prepare: one exposure through a healthy archive shows how many notices an exposure's files make
    const [control, ...burst] = await makeExposures(site, BURST_EXPOSURES + 1);
    if (control === undefined) throw new Error("no control exposure");
    await uploadBurst(archive.url, [control]);
    await eventually(
      async () => ((await siteRows(database.url, site)).some((row) => row.jpg_small_exists) ? true : undefined),
      60_000,
      () => `the control exposure ${control.baseFilename} never completed`,
    );
    await archive.dispatcher.whenIdle(60_000);
    const noticesPerExposure = notices.notices.filter((n) => n.data.base_filename === control.baseFilename).length;
    expect(noticesPerExposure).toBeGreaterThan(0);

    // Act: the burst starts; after its first third is in, the database goes down for a minute
    const uploading = uploadBurst(archive.url, burst, 6);
    await eventually(
      async () => ((await siteRows(database.url, site)).length > BURST_EXPOSURES / 3 ? true : undefined),
      60_000,
      () => "the burst never got going",
    );
    await database.stop();
    const outageStarted = Date.now();
    const uploads = await uploading;
    const duringOutage = {
      read: await fetch(`${archive.url}/${site}/latest_images/5`),
      uploadWithHeader: await fetch(`${archive.url}/upload`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ object_name: `${burst[0]?.baseFilename}-EX00.txt`, header: { OBJECT: "M31" } }),
      }),
    };
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, OUTAGE_MS - (Date.now() - outageStarted))));
    const retriedDuringOutage = archive.dispatcher.stats().reduce((sum, queue) => sum + queue.retried, 0);
    await database.start();

    // Assess: every exposure completes, nothing is dead-lettered, logged twice or announced twice
    const rows = await eventually(
      async () => {
        const found = await siteRows(database.url, site);
        return found.length === BURST_EXPOSURES + 1 && found.every((row) => row.jpg_small_exists) ? found : undefined;
      },
      // The longest wait after the outage is one retry delay (at most a minute), plus the backlog.
      LOCAL_RETRY.maxRetryDelayMs + 90_000,
      async () => {
        const incomplete = (await siteRows(database.url, site)).filter((row) => !row.jpg_small_exists).map((row) => row.base_filename);
        // What the archive knows of each: its status (files, a generated preview) and the site's quarantine.
        const statuses = await Promise.all(
          incomplete.map(async (base) => `${await (await fetch(`${archive.url}/status/${base}`)).text()} row ${await (await fetch(`${archive.url}/image/${base}`)).text()}`),
        );
        const quarantine = await (await fetch(`${archive.url}/quarantine?site=${site}`)).text();
        return `exposures incomplete: ${statuses.join("; ") || "rows missing"}; quarantine ${quarantine}; queues ${JSON.stringify(archive.dispatcher.stats())}`;
      },
    );
    await archive.dispatcher.whenIdle(120_000);
    const health = await fetchHealth(archive.url);
    const logged = counts(await uploadLogFilenames(health, site));
    const noticesPerBase = counts(notices.notices.map((notice) => notice.data.base_filename));

    expect(uploads.failed).toEqual([]);
    expect(retriedDuringOutage, "the outage made deliveries fail and wait").toBeGreaterThan(0);
    expect(duringOutage.read.status).toBe(503);
    expect(duringOutage.read.headers.get("retry-after")).toBe("5");
    expect(duringOutage.uploadWithHeader.status).toBe(503);
    expect(archive.dispatcher.deadLetters()).toEqual([]);
    expect(rows.map((row) => row.base_filename).sort()).toEqual([control, ...burst].map((e) => e.baseFilename).sort());
    for (const key of uploads.acknowledged) expect(logged.get(key), key).toBe(1);
    expect([...logged.values()].every((count) => count === 1), "no upload logged twice").toBe(true);
    for (const exposure of burst) expect(noticesPerBase.get(exposure.baseFilename), exposure.baseFilename).toBe(noticesPerExposure);
  }, 420_000);
});
