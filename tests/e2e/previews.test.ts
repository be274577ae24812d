import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import type { SQSEvent } from "aws-lambda";
import { uploadFile } from "@archive/cli/upload";
import type { FitsImage } from "@archive/core/fits/fitsImage";
import { writeTileCompressed } from "@archive/core/fits/tileCompressedWriter";
import { startLocalArchive, type LocalArchive } from "@archive/local/archive";
import { createDispatcher } from "@archive/local/dispatcher";
import { openMessageJournal } from "@archive/local/messageJournal";
import { findFreePortRange } from "@archive/local/ports";
import { fetchHealth, objectExists, tempStateDir, uniqueSite } from "./harness";

/** A 16-bit 200×150 sky of ~1000 ADU, tile-compressed, with the header a FITS-only camera writes. */
function fitsOnlyFrame(): Buffer {
  const pixels = new Int16Array(200 * 150).map((_, i) => 1000 + ((i * 7919) % 53) - 32768);
  const image: FitsImage = { bitpix: 16, axes: [200, 150], pixels, bscale: 1, bzero: 32768, blank: null };
  return writeTileCompressed(["DATE-OBS= '2026-11-30T03:00:00.000'", "FILTER  = 'R       '"], image, { compression: "GZIP_2" });
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe("previews from FITS in the local archive", () => {
  let state: Awaited<ReturnType<typeof tempStateDir>>;
  let local: LocalArchive;
  let db: pg.Client;

  beforeAll(async () => {
    state = await tempStateDir("previews");
    local = await startLocalArchive({ port: await findFreePortRange(), stateDir: state.path, logLevel: "SILENT" });
    db = new pg.Client({ connectionString: local.databaseUrl });
    await db.connect();
  }, 120_000);

  afterAll(async () => {
    await db?.end();
    await local?.stop();
    await state?.remove();
  });

  it("a FITS-only upload gets its medium jpg and thumbnail, marked generated, about 10 s later", async () => {
    const base = `${uniqueSite()}-cam1-20261130-00000001`;
    const uploadedAt = Date.now();

    await uploadFile({ api: local.url }, { fileName: `${base}-EX10.fits.fz`, bytes: fitsOnlyFrame(), directory: "data" });
    await local.dispatcher.whenIdle();
    const early = await db.query("select jpg_medium_exists from images where base_filename = $1", [base]);

    const row = await until("the preview", 30_000, async () => {
      const result = await db.query<{ jpg_medium_exists: boolean; jpg_small_exists: boolean }>(
        "select jpg_medium_exists, jpg_small_exists from images where base_filename = $1 and jpg_small_exists",
        [base],
      );
      return result.rows[0];
    });
    const elapsed = Date.now() - uploadedAt;

    expect(early.rows).toEqual([{ jpg_medium_exists: false }]);
    expect(row).toEqual({ jpg_medium_exists: true, jpg_small_exists: true });
    expect(elapsed).toBeGreaterThanOrEqual(10_000);
    // ~12 s here: the 10 s delay, then the check, the jpg's and the thumbnail's ingestion; the bound allows a busy machine.
    expect(elapsed).toBeLessThan(25_000);
    const generated = await db.query("select source_key, jpg_key from generated_previews where base_filename = $1", [base]);
    expect(generated.rows).toEqual([{ source_key: `data/${base}-EX10.fits.fz`, jpg_key: `data/${base}-EX10.jpg` }]);
    const health = await fetchHealth(local.url);
    expect(await objectExists(health, `data/${base}-EX11.jpg`)).toBe(true);
  }, 60_000);
});

describe("the local previews queue", () => {
  it("keeps a delayed check in its journal across a restart, and delivers it no sooner than its delay", async () => {
    const state = await tempStateDir("previews-journal");
    const path = `${state.path}/queues.jsonl`;
    const delivered: { body: string; at: number }[] = [];
    const handler = async (event: SQSEvent) => {
      for (const record of event.Records) delivered.push({ body: record.body, at: Date.now() });
      return { batchItemFailures: [] };
    };
    const queues = [{ name: "previews-local", functionName: "makePreviews", handler }];
    const first = openMessageJournal(path);
    const before = createDispatcher({ region: "us-east-1", journal: first, queues });
    const sentAt = Date.now();

    before.send("previews-local", '{"check":1}', 1500);
    await before.whenIdle();
    await before.stop();
    first.close();
    const second = openMessageJournal(path);
    const after = createDispatcher({ region: "us-east-1", journal: second, queues });
    await until("the delivery", 5000, async () => delivered[0]);
    await after.stop();
    second.close();
    await state.remove();

    expect(delivered.map((message) => message.body)).toEqual(['{"check":1}']);
    expect(delivered[0]?.at ?? 0).toBeGreaterThanOrEqual(sentAt + 1500);
  });
});
