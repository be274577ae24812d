import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findFreePortRange } from "@archive/local/ports";
import { fetchHealth, listenForNotices, spawnArchive, tempStateDir, uniqueSite, uploadLogFilenames, type SpawnedArchive } from "../e2e/harness";
import { counts, eventually, makeExposures, siteRows, startOutageDatabase, uploadBurst, type OutageDatabase } from "./support";

// `npm start` as a child process, killed the hard way and stopped the polite way. Its queues are journaled in the
// state directory before S3 answers a PUT, so an upload the archive acknowledged is ingested even when the process
// dies before its handler ran; Ctrl-C ends it within 5 s whatever is connected.
const BURST_EXPOSURES = 40;

describe("the local archive's process dying", () => {
  let database: OutageDatabase;
  let state: Awaited<ReturnType<typeof tempStateDir>>;
  let env: Record<string, string>;
  let running: SpawnedArchive | undefined;

  beforeAll(async () => {
    // The database is the suite's own and outlives the archive, as a server does (embedded Postgres dies with it).
    database = await startOutageDatabase();
    state = await tempStateDir("faults-kill");
    env = { PORT: String(await findFreePortRange()), ARCHIVE_STATE_DIR: state.path, DATABASE_URL: database.url, LOG_LEVEL: "ERROR" };
  });

  afterAll(async () => {
    await running?.stop("SIGKILL");
    await database?.remove();
    await state?.remove();
  });

  it("ingests every acknowledged upload after a SIGKILL that follows a fast burst, once started again", async () => {
    // Prepare
    const site = uniqueSite();
    const exposures = await makeExposures(site, BURST_EXPOSURES);
    running = await spawnArchive(env);

    // Act: a fast burst, killed the moment its last upload is acknowledged; then the same state directory again
    const uploads = await uploadBurst(running.url, exposures, 8);
    await running.stop("SIGKILL");
    const completeAtKill = (await siteRows(database.url, site)).filter((row) => row.jpg_small_exists).length;
    running = await spawnArchive(env);

    // Assess
    const rows = await eventually(
      async () => {
        const found = await siteRows(database.url, site);
        return found.length === BURST_EXPOSURES && found.every((row) => row.jpg_small_exists) ? found : undefined;
      },
      120_000,
      () => `not every exposure completed after the restart (${completeAtKill} were complete at the kill)`,
    );
    const logged = counts(await uploadLogFilenames(await fetchHealth(running.url), site));
    const deadLetters = (await (await fetch(`${running.url}/dlq`)).json()) as unknown[];

    expect(uploads.failed).toEqual([]);
    expect(completeAtKill, "the kill came while work was still queued").toBeLessThan(BURST_EXPOSURES);
    expect(rows).toHaveLength(BURST_EXPOSURES);
    for (const key of uploads.acknowledged) expect(logged.get(key), key).toBeGreaterThanOrEqual(1);
    expect(deadLetters).toEqual([]);
  }, 300_000);

  it("stops within 5 s on Ctrl-C with WebSocket clients connected, and says so", async () => {
    // Prepare
    await running?.stop("SIGKILL");
    running = await spawnArchive(env);
    const clients = await Promise.all([uniqueSite(), undefined, uniqueSite()].map((site) => listenForNotices(running?.url ?? "", site)));

    // Act
    const started = Date.now();
    const exitCode = await running.stop("SIGINT");
    const stoppedInMs = Date.now() - started;
    for (const client of clients) client.close();

    // Assess
    expect(exitCode, running.output()).toBe(0);
    expect(stoppedInMs).toBeLessThan(5000);
    expect(running.output()).toMatch(/stopped in [\d.]+ s; state kept/);
    running = undefined;
  }, 120_000);
});
