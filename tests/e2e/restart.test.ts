import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uploadDemo } from "@archive/cli/commands";
import { findFreePortRange } from "@archive/local/ports";
import { fetchHealth, objectExists, spawnArchive, tempStateDir, uniqueSite, type SpawnedArchive } from "./harness";

// `npm start` as a user runs it: a child process, stopped with Ctrl-C (SIGINT) and started again on the same state
// directory. Embedded Postgres, dynalite and s3rver must all bring back what they held.
const quiet = { write: () => true };

async function json(url: string): Promise<unknown> {
  const response = await fetch(url);
  expect(response.status, `GET ${url}`).toBe(200);
  return response.json();
}

async function waitForImage(api: string, site: string, base: string): Promise<void> {
  const deadline = Date.now() + 45_000;
  for (;;) {
    // 404 is the API's answer for a site with no images yet.
    const response = await fetch(`${api}/${site}/latest_images/10`);
    const latest = response.status === 404 ? "none yet" : await response.text();
    if (latest.includes(`"${base}"`) && latest.includes('"jpg_small_exists":true')) return;
    if (Date.now() > deadline) throw new Error(`${base} never appeared with a thumbnail: ${JSON.stringify(latest)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe("npm start", () => {
  let state: Awaited<ReturnType<typeof tempStateDir>>;
  let running: SpawnedArchive | undefined;
  let env: Record<string, string>;

  beforeAll(async () => {
    state = await tempStateDir("restart");
    env = { PORT: String(await findFreePortRange()), ARCHIVE_STATE_DIR: state.path };
    // This test is about the embedded database; a DATABASE_URL in the caller's environment would bypass it.
    env.DATABASE_URL = "";
  });

  afterAll(async () => {
    await running?.stop("SIGKILL");
    await state?.remove();
  });

  it("keeps exposures, upload-log entries and objects across a Ctrl-C and a restart", async () => {
    const site = uniqueSite();
    running = await spawnArchive(env);
    expect(running.output()).toContain("local mode accepts anonymous uploads");
    const { exposures } = await uploadDemo({ api: running.url, site, count: 1 }, quiet);
    const base = exposures[0]?.baseFilename ?? "";
    await waitForImage(running.url, site, base);

    const exitCode = await running.stop("SIGINT");
    expect(exitCode, running.output()).toBe(0);
    expect(running.output()).toMatch(/stopped in [\d.]+ s; state kept/);
    running = await spawnArchive(env);

    await waitForImage(running.url, site, base);
    const uploads = JSON.stringify(await json(`${running.url}/recentuploads?site=${site}`));
    expect(uploads).toContain(`${base}-EX10.jpg`);
    expect(uploads).toContain(`${base}-EX01.txt`);
    const health = await fetchHealth(running.url);
    expect(await objectExists(health, `data/${base}-EX11.jpg`)).toBe(true);
    expect(await objectExists(health, `data/${base}-EX10.fits.bz2`)).toBe(true);
  });
});
