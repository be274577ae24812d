import { get as httpGet } from "node:http";
import { createServer, type Server } from "node:net";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uploadDemo } from "@archive/cli/commands";
import { demoExposure } from "@archive/cli/demoExposure";
import { uploadFile } from "@archive/cli/upload";
import { startLocalArchive, type LocalArchive } from "@archive/local/archive";
import { findFreePortRange, PortInUseError } from "@archive/local/ports";
import { fetchHealth, listenForNotices, objectExists, tempStateDir, uniqueSite, uploadLogFilenames, type NoticeListener } from "./harness";

// The local archive end to end, in this process: the CLI's demo upload goes through the API's presigned POST into
// s3rver, the dispatcher feeds the same ingest handlers, and the results land in Postgres, S3, DynamoDB and /stream.
const quiet = { write: () => true };

describe("the local archive", () => {
  let archive: LocalArchive;
  let state: Awaited<ReturnType<typeof tempStateDir>>;
  let notices: NoticeListener;
  const site = uniqueSite();

  beforeAll(async () => {
    state = await tempStateDir("e2e");
    archive = await startLocalArchive({ port: await findFreePortRange(), stateDir: state.path });
    notices = await listenForNotices(archive.url, site);
  });

  afterAll(async () => {
    notices?.close();
    await archive?.stop();
    await state?.remove();
  });

  it("publishes its endpoints and credentials on /health", async () => {
    const health = await fetchHealth(archive.url);

    expect(health.database).toBe("embedded");
    expect(health.s3).toMatchObject({ bucket: "data-archive-local", region: "us-east-1", accessKeyId: "S3RVER" });
    expect(health.s3.endpoint).toBe(`http://127.0.0.1:${archive.ports.s3}`);
    expect(health.dynamodb.tables).toMatchObject({ uploadLog: "recent-uploads-log", expirations: "data-expiration-tracker" });
  });

  it("turns a demo exposure uploaded with the CLI into a row, a thumbnail, an upload-log entry and a live notice", async () => {
    const { exposures, outcomes } = await uploadDemo({ api: archive.url, site, count: 1 }, quiet);
    const base = exposures[0]?.baseFilename ?? "";
    expect(outcomes.filter((outcome) => outcome.error !== undefined)).toEqual([]);

    const notice = await notices.waitFor((candidate) => candidate.data.base_filename === base);
    await archive.dispatcher.whenIdle();

    expect(notice).toMatchObject({ topic: "imagedata", site, data: { s3_directory: "data", base_filename: base, site } });
    const client = new pg.Client({ connectionString: archive.databaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query(
        "select site, filter_used, exposure_time, right_ascension, fits_10_exists, jpg_medium_exists, jpg_small_exists from images where base_filename = $1",
        [base],
      );
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ site, fits_10_exists: true, jpg_medium_exists: true, jpg_small_exists: true });
      expect(typeof rows[0].filter_used).toBe("string");
      expect(rows[0].exposure_time).toBeGreaterThan(0);
    } finally {
      await client.end();
    }
    const health = await fetchHealth(archive.url);
    expect(await objectExists(health, `data/${base}-EX11.jpg`)).toBe(true);
    expect(await uploadLogFilenames(health, site)).toEqual(
      expect.arrayContaining(["EX01.txt", "EX10.fits.bz2", "EX10.jpg", "EX11.jpg"].map((file) => `data/${base}-${file}`)),
    );
    expect(archive.dispatcher.deadLetters()).toEqual([]);
  });

  it("lets a browser on another origin call the API, as API Gateway's CORS configuration does", async () => {
    const preflight = await fetch(`${archive.url}/upload`, {
      method: "OPTIONS",
      headers: { origin: "https://www.photonranch.org", "access-control-request-method": "POST" },
    });
    const read = await fetch(`${archive.url}/recentuploads?site=all`, { headers: { origin: "https://www.photonranch.org" } });

    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-methods")).toContain("POST");
    expect(preflight.headers.get("access-control-allow-headers")).toContain("authorization");
    expect(read.status).toBe(200);
    expect(read.headers.get("access-control-allow-origin")).toBe("*");
  });

  it("routes the path as sent: an encoded .. is a JSON 400, never the dashboard", async () => {
    // Sent as written: fetch() would normalise the path before it leaves, as browsers do, curl --path-as-is does not.
    const rawGet = (path: string) =>
      new Promise<{ status: number; type: string }>((resolve, reject) => {
        const outgoing = httpGet({ host: "127.0.0.1", port: archive.ports.api, path }, (incoming) => {
          incoming.resume();
          resolve({ status: incoming.statusCode ?? 0, type: String(incoming.headers["content-type"]) });
        });
        outgoing.on("error", reject);
      });
    for (const path of ["/image/%2e%2e", "/fitsheader/%2e%2e"]) {
      expect(await rawGet(path), path).toEqual({ status: 400, type: "application/json" });
    }
  });

  it("serves the uploaded exposure through the same read routes as AWS", async () => {
    const { exposures } = await uploadDemo({ api: archive.url, site, count: 1 }, quiet);
    const base = exposures[0]?.baseFilename ?? "";
    await notices.waitFor((candidate) => candidate.data.base_filename === base);
    await archive.dispatcher.whenIdle();

    const latest: unknown = await (await fetch(`${archive.url}/${site}/latest_images/10`)).json();
    const header: unknown = await (await fetch(`${archive.url}/fitsheader/${base}`)).json();

    expect(latest).toEqual(expect.arrayContaining([expect.objectContaining({ base_filename: base, jpg_small_exists: true })]));
    expect(header).toMatchObject({ INSTRUME: "demo01", SITE: site });
  });

  // Last in this file: its emulated clock jumps two days ahead, past every entry's expiry.
  it("expires an info image and its upload-log entries once their time has passed, as DynamoDB's TTL would", async () => {
    const exposure = await demoExposure({ site, counter: 7001, captureTime: new Date(), seed: 3, jpgWidth: 240 });
    const jpg = exposure.files.find((file) => file.name.endsWith(".jpg"));
    if (!jpg) throw new Error("the demo exposure has no jpg");
    await uploadFile({ api: archive.url }, { fileName: jpg.name, bytes: jpg.bytes, directory: "info-images", channel: 3 });
    await notices.waitFor((candidate) => candidate.data.base_filename === exposure.baseFilename);
    await archive.dispatcher.whenIdle();
    const health = await fetchHealth(archive.url);
    expect((await fetch(`${archive.url}/infoimage/${site}/3`)).status).toBe(200);
    expect(await objectExists(health, `info-images/${jpg.name}`)).toBe(true);

    await archive.ttl.runOnce(new Date(Date.now() + 49 * 3600 * 1000));

    expect((await fetch(`${archive.url}/infoimage/${site}/3`)).status).toBe(204);
    expect(await objectExists(health, `info-images/${jpg.name}`)).toBe(false);
    expect(await uploadLogFilenames(health, site)).toEqual([]);
  });

  it("refuses to start on a port in use and names the port and the variable that moves it", async () => {
    const base = await findFreePortRange();
    const holder: Server = createServer();
    await new Promise<void>((resolve) => holder.listen(base + 1, "127.0.0.1", () => resolve()));
    const other = await tempStateDir("busy");
    try {
      const starting = startLocalArchive({ port: base, stateDir: other.path });

      await expect(starting).rejects.toBeInstanceOf(PortInUseError);
      await expect(starting).rejects.toThrow(`port ${base + 1}`);
      await expect(starting).rejects.toThrow("ARCHIVE_S3_PORT");
    } finally {
      await new Promise<void>((resolve) => holder.close(() => resolve()));
      await other.remove();
    }
  });
});
