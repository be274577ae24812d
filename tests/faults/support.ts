import { execFileSync, spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { demoExposure, type DemoExposure } from "@archive/cli/demoExposure";
import { uploadFile } from "@archive/cli/upload";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "@archive/local/embeddedPostgres";
import { findFreePortRange } from "@archive/local/ports";

/**
 * What the fault suite shares: a PostgreSQL it can take down and bring back, exposures to upload in bursts, and
 * readers of what the archive made of them (rows, upload-log entries).
 */

/** A database of the suite's own: it stops (as a crash does) and starts again on the same port, keeping its data. */
export interface OutageDatabase {
  url: string;
  kind: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  remove(): Promise<void>;
}

const hasPgCreateCluster = spawnSync("pg_createcluster", ["--help"], { stdio: "ignore" }).status === 0;

/**
 * A second PostgreSQL cluster (Debian's pg_createcluster, on a free port, trust auth), stopped with `-m immediate`:
 * the server dies without a checkpoint, as on a crash or a failover. Where Debian's tools are missing (a laptop), an
 * embedded PostgreSQL (PGlite) on its own data directory, whose server is stopped and started the same way.
 */
export async function startOutageDatabase(): Promise<OutageDatabase> {
  const port = await findFreePortRange(1);
  return hasPgCreateCluster ? debianCluster(port) : embeddedCluster(port);
}

function postgresVersion(): string {
  const versions = execFileSync("ls", ["/usr/lib/postgresql"], { encoding: "utf8" }).split("\n").filter(Boolean);
  const newest = versions.sort((a, b) => Number(a) - Number(b)).at(-1);
  if (newest === undefined) throw new Error("pg_createcluster is installed but no PostgreSQL server is");
  return newest;
}

function debianCluster(port: number): OutageDatabase {
  const version = postgresVersion();
  const name = `faults_${process.pid}_${port}`;
  const run = (command: string, ...args: string[]) => execFileSync(command, args, { stdio: "pipe" });
  run("pg_createcluster", version, name, "-p", String(port), "--start", "--", "--auth=trust");
  return {
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    kind: `PostgreSQL ${version} cluster ${name} on port ${port}`,
    stop: async () => void run("pg_ctlcluster", version, name, "stop", "-m", "immediate"),
    start: async () => void run("pg_ctlcluster", version, name, "start"),
    remove: async () => void run("pg_dropcluster", "--stop", version, name),
  };
}

async function embeddedCluster(port: number): Promise<OutageDatabase> {
  const dataDir = await mkdtemp(join(tmpdir(), "archive-faults-pg-"));
  let server: EmbeddedPostgres | undefined = await startEmbeddedPostgres({ dataDir, port });
  return {
    url: server.url,
    kind: `embedded PostgreSQL on port ${port}`,
    async stop() {
      await server?.stop();
      server = undefined;
    },
    async start() {
      server = await startEmbeddedPostgres({ dataDir, port });
    },
    async remove() {
      await server?.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Exposures with small pictures (the faults are the point, not the pixels), counters from `firstCounter`. */
export async function makeExposures(site: string, count: number, firstCounter = 1): Promise<DemoExposure[]> {
  const captureTime = new Date();
  return Promise.all(
    Array.from({ length: count }, (_, index) =>
      demoExposure({ site, counter: firstCounter + index, captureTime, seed: index + 1, jpgWidth: 192 }),
    ),
  );
}

export interface UploadResult {
  /** Keys whose upload S3 acknowledged. */
  acknowledged: string[];
  failed: { fileName: string; error: string }[];
}

/** Uploads every file of the exposures through the API, `concurrency` at a time, header first per exposure. */
export async function uploadBurst(api: string, exposures: DemoExposure[], concurrency = 8, token?: string): Promise<UploadResult> {
  const files = exposures.flatMap((exposure) => exposure.files);
  const result: UploadResult = { acknowledged: [], failed: [] };
  let next = 0;
  const worker = async () => {
    for (let file = files[next++]; file !== undefined; file = files[next++]) {
      try {
        const key = await uploadFile({ api, ...(token ? { token } : {}) }, { fileName: file.name, bytes: file.bytes, directory: "data" });
        result.acknowledged.push(key);
      } catch (error) {
        result.failed.push({ fileName: file.name, error: error instanceof Error ? error.message : String(error) });
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return result;
}

/** Waits until `check` returns a value that is not undefined, polling; fails with `describe()` at the deadline. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs: number,
  describe: () => string | Promise<string>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${await describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** The images rows of a site: base filename → whether its thumbnail and its FITS are recorded. */
export async function siteRows(databaseUrl: string, site: string): Promise<{ base_filename: string; jpg_small_exists: boolean }[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const result = await client.query<{ base_filename: string; jpg_small_exists: boolean }>(
      "SELECT base_filename, jpg_small_exists FROM images WHERE site = $1 ORDER BY base_filename",
      [site],
    );
    return result.rows;
  } finally {
    await client.end();
  }
}

/** How often each value occurs. */
export function counts(values: readonly string[]): Map<string, number> {
  const result = new Map<string, number>();
  for (const value of values) result.set(value, (result.get(value) ?? 0) + 1);
  return result;
}
