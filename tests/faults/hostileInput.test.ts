import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { get as httpGet } from "node:http";
import { join } from "node:path";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uploadFile } from "@archive/cli/upload";
import { MAX_REQUEST_BODY_BYTES } from "@archive/core/api/handleRequest";
import { MAX_HEADER_CARDS } from "@archive/core/fits/header";
import { bzip2 } from "@archive/core/platform/bzip2";
import { startLocalArchive, type LocalArchive } from "@archive/local/archive";
import { findFreePortRange } from "@archive/local/ports";
import { repoRoot, tempStateDir, uniqueSite } from "../e2e/harness";
import { siteRows } from "./support";

// What an attacker, or a broken site script, sends to a running local archive: compression bombs, an object key
// its S3 cannot store, hostile requests, and every kind of credential. Each is refused with a reason, costs bounded
// memory, and leaves the archive serving everyone else.
const run = promisify(execFile);
const PEAK_RSS_LIMIT_BYTES = 256 * 1024 * 1024;
/** 64 MiB of blanks with no END card: 83 bytes as .bz2, 65 kB as .gz. */
const BLANKS = Buffer.alloc(64 * 1024 * 1024, 0x20);

async function readHeaderInChild(path: string, kind: string): Promise<{ cards?: number; refused?: string; peakRssBytes: number }> {
  const { stdout } = await run(process.execPath, ["--import", "tsx", "tests/faults/readHeader.child.ts", path, kind], {
    cwd: repoRoot,
    maxBuffer: 1024 * 1024,
  });
  return JSON.parse(stdout) as { cards?: number; refused?: string; peakRssBytes: number };
}

function base(site: string, counter: number): string {
  return `${site}-kb001ms-20261130-${String(counter).padStart(8, "0")}`;
}

/** A GET of the path exactly as written: fetch() would resolve "%2e%2e" to ".." and then away, as browsers do. */
function getRawPath(baseUrl: string, path: string): Promise<{ path: string; status: number; type: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpGet({ host: "127.0.0.1", port: new URL(baseUrl).port, path }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () => resolve({ path, status: response.statusCode ?? 0, type: response.headers["content-type"], body }));
    });
    request.on("error", reject);
  });
}

async function post(url: string, body: string, headers: Record<string, string> = { "content-type": "application/json" }) {
  const response = await fetch(url, { method: "POST", headers, body });
  return { status: response.status, type: response.headers.get("content-type"), body: (await response.json().catch(() => undefined)) as unknown };
}

describe("hostile input against the local archive", () => {
  let archive: LocalArchive;
  let state: Awaited<ReturnType<typeof tempStateDir>>;
  const bombs: Record<string, string> = {};

  beforeAll(async () => {
    state = await tempStateDir("faults-hostile");
    archive = await startLocalArchive({ port: await findFreePortRange(), stateDir: state.path, logLevel: "SILENT" });
    bombs.bz2 = join(state.path, "blanks.fits.bz2");
    bombs.gz = join(state.path, "blanks.fits.gz");
    bombs.txt = join(state.path, "huge-EX01.txt");
    await writeFile(bombs.bz2, bzip2(BLANKS));
    await writeFile(bombs.gz, gzipSync(BLANKS));
    const cards = Array.from({ length: 50_000 }, (_, index) => `KEY${index}`.padEnd(8).slice(0, 8) + "= 1".padEnd(72));
    await writeFile(bombs.txt, `${cards.join("\n")}\nEND\n`);
  }, 120_000);

  afterAll(async () => {
    await archive?.stop();
    await state?.remove();
  });

  it.each([
    ["bz2", "a .fits.bz2 of 83 bytes that inflates to 64 MiB of blanks with no END"],
    ["gz", "a .fits.gz that inflates to 64 MiB of blanks with no END"],
    ["txt", `a header text of 50,000 cards (more than the ${MAX_HEADER_CARDS} a FITS header can hold)`],
  ])("refuses %s bombs with the reason, in under 256 MB: %s", async (kind) => {
    const outcome = await readHeaderInChild(bombs[kind] ?? "", kind);

    expect(outcome.refused).toMatch(/not a FITS header|without reaching the end of the header/);
    expect(outcome.peakRssBytes).toBeLessThan(PEAK_RSS_LIMIT_BYTES);
  }, 60_000);

  it("acknowledges a bomb uploaded as an exposure's FITS with its reason: no retries, no dead letter, no row", async () => {
    // Prepare
    const site = uniqueSite();
    const retriedBefore = archive.dispatcher.stats().reduce((sum, queue) => sum + queue.retried, 0);

    // Act
    await uploadFile({ api: archive.url }, { fileName: `${base(site, 1)}-EX10.fits.bz2`, bytes: await readFile(bombs.bz2 ?? ""), directory: "data" });
    await uploadFile({ api: archive.url }, { fileName: `${base(site, 2)}-EX10.fits.gz`, bytes: await readFile(bombs.gz ?? ""), directory: "data" });
    await archive.dispatcher.whenIdle(60_000);

    // Assess
    expect(archive.dispatcher.stats().reduce((sum, queue) => sum + queue.retried, 0)).toBe(retriedBefore);
    expect(archive.dispatcher.deadLetters()).toEqual([]);
    expect((await siteRows(archive.databaseUrl, site)).filter((row) => row.jpg_small_exists)).toEqual([]);
    expect((await fetch(`${archive.url}/health`)).status).toBe(200);
  }, 120_000);

  it("refuses a 300-character key put straight into its S3 with KeyTooLongError, and goes on serving", async () => {
    // Prepare
    const health = archive.health();
    const s3 = new S3Client({ endpoint: health.s3.endpoint, region: health.s3.region, forcePathStyle: true, credentials: health.s3 });
    const key = `data/${"x".repeat(300)}.jpg`;

    // Act
    const refusal = await s3.send(new PutObjectCommand({ Bucket: health.s3.bucket, Key: key, Body: "x" })).catch((error: unknown) => error);
    s3.destroy();
    const site = uniqueSite();
    await uploadFile({ api: archive.url }, { fileName: `${base(site, 3)}-EX01.txt`, bytes: Buffer.from("OBJECT  = 'M31'".padEnd(80) + "END".padEnd(80)), directory: "data" });
    await archive.dispatcher.whenIdle(60_000);

    // Assess
    expect(refusal).toMatchObject({ name: "KeyTooLongError", $metadata: { httpStatusCode: 400 } });
    expect((await siteRows(archive.databaseUrl, site)).map((row) => row.base_filename)).toEqual([base(site, 3)]);
  }, 120_000);

  it("answers hostile requests with a JSON 4xx naming the problem, and never a presigned URL for a key that is not the archive's", async () => {
    const site = uniqueSite();
    const name = `${base(site, 4)}-EX00.txt`;
    const nulInValue = await post(`${archive.url}/upload`, JSON.stringify({ object_name: name, header: { OBJECT: "M31\u0000" } }));
    const nulInKeyword = await post(`${archive.url}/upload`, JSON.stringify({ object_name: name, header: { "OBJ\u0000": "M31" } }));
    const plainText = await post(`${archive.url}/upload`, JSON.stringify({ object_name: name }), { "content-type": "text/plain" });
    const oversized = await post(`${archive.url}/upload`, JSON.stringify({ object_name: name, pad: "x".repeat(MAX_REQUEST_BODY_BYTES) }));
    const traversal = await Promise.all(
      ["../../etc/passwd", `data/../${name}`, `${site}/../../x-EX10.jpg`, "%2e%2e/x.jpg"].map((objectName) =>
        post(`${archive.url}/upload`, JSON.stringify({ object_name: objectName })),
      ),
    );
    const download = await post(`${archive.url}/download`, JSON.stringify({ object_name: "../../../etc/passwd", s3_directory: "data" }));
    const paths = await Promise.all(
      ["/image/%2e%2e", "/fitsheader/%2e%2e/", "/%2e%2e/etc/passwd", "/%00", "/image/%ZZ"].map((path) => getRawPath(archive.url, path)),
    );

    expect(nulInValue).toMatchObject({ status: 400, body: { error: "invalid_input", field: "header.OBJECT" } });
    expect(nulInKeyword).toMatchObject({ status: 400, body: { error: "invalid_input" } });
    expect(plainText).toMatchObject({ status: 415, body: { error: "unsupported_media_type" } });
    expect(oversized).toMatchObject({ status: 413, body: { error: "payload_too_large" } });
    for (const reply of [...traversal, download]) {
      expect(reply.status).toBe(400);
      expect(JSON.stringify(reply.body)).not.toMatch(/https?:\/\//);
    }
    for (const reply of paths) {
      expect(reply.status, reply.path).toBeGreaterThanOrEqual(400);
      expect(reply.status, reply.path).toBeLessThan(500);
      expect(reply.type, reply.path).toMatch(/^application\/json/);
      expect(reply.body, reply.path).not.toMatch(/<html/i);
    }
  });
});

describe("auth against the local archive", () => {
  let closed: LocalArchive;
  let open: LocalArchive;
  const states: Awaited<ReturnType<typeof tempStateDir>>[] = [];
  const site = uniqueSite();
  const otherSite = uniqueSite();

  /** `npm run tokens -- … --local URL`, as an operator runs it against a running local archive. */
  async function tokens(archive: LocalArchive, ...args: string[]): Promise<string> {
    const { stdout } = await run(process.execPath, ["--import", "tsx", "scripts/tokens.ts", ...args, "--local", archive.url], { cwd: repoRoot });
    return stdout;
  }
  const tokenIn = (output: string) => /token \(shown once, give it to the site\): (\S+)/.exec(output)?.[1] ?? "";

  async function uploadStatus(archive: LocalArchive, authorization?: string): Promise<number> {
    const headers: Record<string, string> = { "content-type": "application/json", ...(authorization === undefined ? {} : { authorization }) };
    const response = await fetch(`${archive.url}/upload`, {
      method: "POST",
      headers,
      body: JSON.stringify({ object_name: `${base(site, 5)}-EX10.jpg` }),
    });
    return response.status;
  }

  beforeAll(async () => {
    for (const label of ["faults-auth-closed", "faults-auth-open"]) states.push(await tempStateDir(label));
    closed = await startLocalArchive({
      port: await findFreePortRange(),
      stateDir: states[0]?.path ?? "",
      allowAnonymousUploads: false,
      logLevel: "SILENT",
    });
    open = await startLocalArchive({ port: await findFreePortRange(), stateDir: states[1]?.path ?? "", logLevel: "SILENT" });
  });

  afterAll(async () => {
    await closed?.stop();
    await open?.stop();
    for (const state of states) await state.remove();
  });

  const MALFORMED = ["Token x", "Bearer", "Bearer a b", "Basic dXNlcjpwYXNz", ""];

  it("with anonymous uploads off: none, malformed, unknown, revoked 401; another site's token 403; the site's own 200", async () => {
    // Prepare: tokens issued and revoked with npm run tokens against this archive
    const valid = tokenIn(await tokens(closed, "issue", site));
    const other = tokenIn(await tokens(closed, "issue", otherSite));
    const revoked = tokenIn(await tokens(closed, "issue", site));
    await tokens(closed, "revoke", revoked);

    // Act
    const statuses = {
      none: await uploadStatus(closed),
      malformed: await Promise.all(MALFORMED.map((header) => uploadStatus(closed, header))),
      unknown: await uploadStatus(closed, "Bearer not-a-token-anyone-issued"),
      revoked: await uploadStatus(closed, `Bearer ${revoked}`),
      otherSite: await uploadStatus(closed, `Bearer ${other}`),
      valid: await uploadStatus(closed, `Bearer ${valid}`),
    };

    // Assess
    expect(closed.health().anonymousUploads).toBe(false);
    expect(statuses).toEqual({
      none: 401,
      malformed: MALFORMED.map(() => 401),
      unknown: 401,
      revoked: 401,
      otherSite: 403,
      valid: 200,
    });
  }, 120_000);

  it("with anonymous uploads on: none 200, and malformed or unknown credentials still 401", async () => {
    const statuses = {
      none: await uploadStatus(open),
      malformed: await Promise.all(MALFORMED.map((header) => uploadStatus(open, header))),
      unknown: await uploadStatus(open, "Bearer not-a-token-anyone-issued"),
    };

    expect(statuses).toEqual({ none: 200, malformed: MALFORMED.map(() => 401), unknown: 401 });
  });
});
