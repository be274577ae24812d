import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { MAX_HEADER_TEXT_BYTES } from "@archive/core/fits/hdus";
import { startLocalArchive, type LocalArchive } from "@archive/local/archive";
import { findFreePortRange, localPorts } from "@archive/local/ports";
import { startS3Server } from "@archive/local/s3Server";
import { buildFitsHeader } from "../support/fits";
import { repoRoot, tempStateDir, uniqueSite } from "./harness";

// `npx archive quarantine | reingest | reconcile` against a local archive: a header refused and quarantined, sent
// through ingestion again, then fixed in place while the archive is down (no event), and repaired by the reconciler
// the archive runs at its next start.

/** This worktree's CLI, run as its bin runs it. */
async function archive(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [join(repoRoot, "packages/cli/bin/archive.js"), ...args], { cwd: repoRoot });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = z.object({ code: z.number(), stdout: z.string(), stderr: z.string() }).safeParse(error);
    if (!failed.success) throw error;
    return failed.data;
  }
}

const BUCKET = "data-archive-local";
const CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };

async function put(endpoint: string, key: string, body: string): Promise<void> {
  const s3 = new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, credentials: CREDENTIALS });
  try {
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
  } finally {
    s3.destroy();
  }
}

const headerText = (base: string) =>
  buildFitsHeader([
    ["SIMPLE", true],
    ["BITPIX", 16],
    ["NAXIS", 0],
    ["DATE-OBS", "2024-03-12T04:12:40.000"],
    ["EXPTIME", 30],
    ["ORIGNAME", base],
  ]);

const quarantinedSchema = z.object({ object_key: z.string(), reason: z.string(), state: z.string(), times: z.number() });

describe("npx archive quarantine, reingest and reconcile", () => {
  let state: Awaited<ReturnType<typeof tempStateDir>>;
  let local: LocalArchive | undefined;
  let port: number;
  const site = uniqueSite();
  const today = new Date().toISOString().slice(0, 10).replace(/-/g, "");
  const refused = `${site}-cam01-${today}-00000001`;
  const lost = `${site}-cam01-${today}-00000002`;
  const refusedKey = `data/${refused}-EX00.txt`;

  const start = async () => {
    local = await startLocalArchive({ port, stateDir: state.path, logLevel: "SILENT", retryDelayMs: 50 });
    return local;
  };

  beforeAll(async () => {
    state = await tempStateDir("cli-quarantine");
    port = await findFreePortRange();
    const running = await start();
    await put(running.health().s3.endpoint, refusedKey, "A".repeat(MAX_HEADER_TEXT_BYTES + 80));
    await running.dispatcher.whenIdle();
  }, 120_000);

  afterAll(async () => {
    await local?.stop();
    await state?.remove();
  });

  it("lists the refused header with its reason, and shows it", async () => {
    const listed = await archive("quarantine", "list", "--site", site, "--api", local?.url ?? "");
    const shown = await archive("quarantine", "show", refusedKey, "--api", local?.url ?? "");

    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(new RegExp(`quarantined\\tunreadable_header\\t1×\\t${refusedKey}\\t.*not a FITS header`));
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain(`key\t${refusedKey}`);
    expect(shown.stdout).toContain("reason\tunreadable_header");
  });

  it("reingests it through the local ingest queue: refused again, it is counted again", async () => {
    const result = await archive("reingest", refusedKey, "--api", local?.url ?? "");
    await local?.dispatcher.whenIdle();
    const shown = await archive("quarantine", "show", refusedKey, "--json", "--api", local?.url ?? "");

    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`sent\t${refusedKey}`);
    expect(quarantinedSchema.parse(JSON.parse(shown.stdout))).toMatchObject({ reason: "unreadable_header", state: "quarantined", times: 2 });
  });

  it("repairs at start what changed while it was down (no event), and then finds nothing lost", async () => {
    // Prepare: the archive is down; its bucket alone takes the fixed header and a new object, whose events are lost
    await local?.stop();
    local = undefined;
    const bucketOnly = await startS3Server({ bucket: BUCKET, directory: join(state.path, "s3"), port: localPorts(port).s3 });
    await put(bucketOnly.endpoint, refusedKey, headerText(refused));
    await put(bucketOnly.endpoint, `data/${lost}-EX00.txt`, headerText(lost));
    await bucketOnly.close();

    // Act
    const running = await start();
    await running.dispatcher.whenIdle();
    const dryRun = await archive("reconcile", "--dry-run", "--since", "1h", "--api", running.url);
    const run = await archive("reconcile", "--api", running.url);
    const shown = await archive("quarantine", "show", refusedKey, "--json", "--api", running.url);

    // Assess
    for (const base of [refused, lost]) {
      const header = await fetch(`${running.url}/fitsheader/${base}`);
      expect(header.status, base).toBe(200);
      expect(await header.text()).toContain(base);
    }
    expect(dryRun.code, dryRun.stderr).toBe(0);
    expect(dryRun.stdout).toMatch(/^data\/\t\d+ listed\t\d+ recorded\t0 lost\t0 re-ingested\t\d+ LIST calls$/m);
    expect(dryRun.stdout).toContain("0 lost (dry run: nothing re-ingested)");
    expect(run.stdout).toContain("0 lost, 0 re-ingested");
    expect(quarantinedSchema.parse(JSON.parse(shown.stdout))).toMatchObject({ state: "reingested" });
  }, 120_000);

  it("answers reingest without keys or a filter with the usage and exit code 2", async () => {
    const result = await archive("reingest");

    expect(result.code).toBe(2);
    expect(result.stderr).toContain("reingest takes KEY…");
  });
});
