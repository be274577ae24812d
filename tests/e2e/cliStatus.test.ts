import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { z } from "zod";
import { demoExposure, type DemoExposure } from "@archive/cli/demoExposure";
import { uploadFile } from "@archive/cli/upload";
import { exposureArchivedDetailSchema } from "@archive/core/exposures/archivedEvent";
import { recordArrival } from "@archive/core/exposures/exposureStatus";
import { parseObjectKey } from "@archive/core/names/fileName";
import { createDb } from "@archive/core/platform/postgres";
import { EXPOSURE_ARCHIVED_TOPIC, startLocalArchive, type LocalArchive } from "@archive/local/archive";
import { findFreePortRange } from "@archive/local/ports";
import { repoRoot, tempStateDir, uniqueSite } from "./harness";

/**
 * `npx archive …` with this checkout's CLI: the bin npm links (node_modules may be another checkout's), run by node
 * as its shebang would.
 */
async function archive(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [join(repoRoot, "packages", "cli", "bin", "archive.js"), ...args], { cwd: repoRoot });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = z.object({ code: z.number(), stdout: z.string(), stderr: z.string() }).safeParse(error);
    if (!failed.success) throw error;
    return failed.data;
  }
}

const streamMessageSchema = z.object({ topic: z.string(), site: z.string(), data: z.unknown() });

// `npx archive status` and `npx archive stuck` as a user runs them, and the archived event on the local /stream.
describe("npx archive status and stuck, and the exposure-archived event on /stream", () => {
  let state: Awaited<ReturnType<typeof tempStateDir>>;
  let local: LocalArchive;
  let socket: WebSocket;
  const archived: unknown[] = [];
  const site = uniqueSite();
  let complete: DemoExposure;
  let incomplete: DemoExposure;

  const upload = async (exposure: DemoExposure, which: (name: string) => boolean) => {
    for (const file of exposure.files.filter((candidate) => which(candidate.name))) {
      await uploadFile({ api: local.url }, { fileName: file.name, bytes: file.bytes, directory: "data" });
    }
  };

  beforeAll(async () => {
    state = await tempStateDir("cli-status");
    local = await startLocalArchive({ port: await findFreePortRange(), stateDir: state.path, logLevel: "SILENT" });
    socket = new WebSocket(`${local.url.replace(/^http/, "ws")}/stream?site=${site}`);
    socket.on("message", (data: WebSocket.RawData) => {
      const message = streamMessageSchema.parse(JSON.parse(data.toString()));
      if (message.topic === EXPOSURE_ARCHIVED_TOPIC) archived.push(message.data);
    });
    await new Promise<void>((resolve, reject) => {
      socket.once("open", () => resolve());
      socket.once("error", reject);
    });
    complete = await demoExposure({ site, counter: 1, captureTime: new Date(Date.UTC(2024, 2, 1, 3)), seed: 1, jpgWidth: 60 });
    incomplete = await demoExposure({ site, counter: 2, captureTime: new Date(Date.UTC(2024, 2, 1, 4)), seed: 2, jpgWidth: 60 });
    // The complete one's files twice, the jpg first; the other's header only.
    await upload(complete, (name) => name.endsWith(".jpg"));
    await upload(complete, () => true);
    await upload(incomplete, (name) => name.endsWith(".txt"));
    await local.dispatcher.whenIdle();
  }, 120_000);

  afterAll(async () => {
    socket?.close();
    await local?.stop();
    await state?.remove();
  });

  it("publishes one exposure-archived event on /stream, under its own topic, for the complete exposure", async () => {
    for (let waited = 0; archived.length === 0 && waited < 10_000; waited += 100) await new Promise((resolve) => setTimeout(resolve, 100));

    expect(archived).toHaveLength(1);
    expect(exposureArchivedDetailSchema.parse(archived[0])).toMatchObject({
      version: "1",
      base_filename: complete.baseFilename,
      site,
      image: { base_filename: complete.baseFilename, jpg_medium_exists: true, fits_10_exists: true },
    });
  });

  it("status prints the status, the step times and the files present and missing", async () => {
    const done = await archive("status", complete.baseFilename, "--api", local.url);
    const receiving = await archive("status", incomplete.baseFilename, "--json", "--api", local.url);

    expect(done.code).toBe(0);
    expect(done.stdout).toMatch(new RegExp(`^${complete.baseFilename}: complete\\n`));
    expect(done.stdout).toMatch(/receiving +\d{4}-\d\d-\d\dT/);
    expect(done.stdout).toMatch(/missing +none/);
    expect(receiving.code).toBe(0);
    expect(JSON.parse(receiving.stdout)).toMatchObject({ status: "receiving", stuck: false, files: ["header"], missing: ["jpg_medium", "fits_small"] });
  });

  it("stuck lists an exposure first seen more than 2 minutes ago (the local threshold) with what it misses", async () => {
    // Prepare: an exposure whose header arrived 5 minutes ago and nothing since.
    const db = createDb(local.databaseUrl);
    const old = parseObjectKey(`data/${site}-kb001ms-20240301-00000003-EX00.txt`);
    try {
      await recordArrival(db, old, new Date(Date.now() - 5 * 60_000));
    } finally {
      await db.destroy();
    }

    const stuck = await archive("stuck", "--site", site, "--api", local.url);
    const asStatus = await archive("status", "--stuck", "--site", site, "--json", "--api", local.url);

    expect(stuck.code).toBe(0);
    expect(stuck.stdout.trim().split("\n")).toEqual([
      `1 stuck exposure(s) (site ${site}, stuck after 2 min)`,
      expect.stringMatching(new RegExp(`^${old.baseFilename}\\treceiving\\tsince .+\\tmissing jpg_medium, fits_small$`)),
    ]);
    expect(JSON.parse(asStatus.stdout)).toMatchObject({ site, stuck_after_minutes: 2, exposures: [{ base_filename: old.baseFilename, stuck: true }] });
  });

  it("status of an exposure the archive never saw exits 1 with the API's reason", async () => {
    const result = await archive("status", `${site}-kb001ms-20240301-00000099`, "--api", local.url);

    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/404: no exposure .* neither an upload request with its header nor any of its files/);
  });
});
