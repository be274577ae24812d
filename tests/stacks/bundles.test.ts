import { existsSync } from "node:fs";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { synthesize, type SynthResult } from "../../scripts/synth";

/** `npm run synth` end to end: templates on disk, every handler bundled, sharp for linux-arm64 in the layer. */
let result: SynthResult;
let outDir: string;

const manifest = z.object({ version: z.string() }).passthrough();
const readManifest = async (file: string) => manifest.parse(JSON.parse(await readFile(file, "utf8")));

const handlers = [
  ["Ingest", "IngestData", "ingestData"],
  ["Ingest", "IngestInfoImages", "ingestInfoImages"],
  ["Ingest", "IngestAllsky", "ingestAllsky"],
  ["Ingest", "ExpireData", "expireData"],
  ["Ingest", "SweepExpirations", "sweepExpirations"],
  ["Ingest", "MakePreviews", "makePreviews"],
  ["Database", "Migrate", "migrate"],
  ["Operations", "CountCounterGaps", "countCounterGaps"],
  ["Operations", "CountStuckExposures", "countStuckExposures"],
  ["Operations", "ReconcileObjects", "reconcileObjects"],
  ["Api", "ApiUpload", "apiUpload"],
  ["Api", "ApiReads", "apiReads"],
  ["Api", "ApiDownload", "apiDownload"],
  ["Api", "ApiOperations", "apiOperations"],
  ["Api", "Authorizer", "authorizer"],
] as const;

function bundleOf(stack: string, id: string): string {
  const entries = Object.entries(result.bundles).filter(([key]) =>
    new RegExp(`^test-data-archive-${stack}/${id}[0-9A-F]{8}$`).test(key),
  );
  const [entry] = entries;
  if (entries.length !== 1 || !entry) throw new Error(`expected one bundle for ${stack}/${id}, found ${entries.length}`);
  return entry[1];
}

beforeAll(async () => {
  outDir = await mkdtemp(path.join(tmpdir(), "archive-synth-"));
  result = await synthesize("test", outDir);
}, 300_000);

afterAll(async () => {
  await rm(outDir, { recursive: true, force: true });
});

describe("npm run synth", () => {
  it("writes one CloudFormation template per stack as JSON", async () => {
    expect(Object.keys(result.templates).sort()).toEqual(
      ["Api", "Database", "Ingest", "Monitoring", "Operations", "Storage"].map((name) => `test-data-archive-${name}`),
    );
    for (const file of Object.values(result.templates)) {
      const template = z.object({ Resources: z.record(z.unknown()) }).parse(JSON.parse(await readFile(file, "utf8")));
      expect(Object.keys(template.Resources).length, file).toBeGreaterThan(0);
    }
  });

  it.each(handlers)("bundles %s/%s from packages/functions/src/%s.ts as an ES module", async (stack, id, handler) => {
    const bundle = bundleOf(stack, id);
    const code = await readFile(path.join(bundle, "packages", "functions", "src", `${handler}.mjs`), "utf8");
    expect(code).toMatch(/export\s*\{[^}]*\bhandler\b/);
  });

  it("leaves sharp out of every function bundle: functions that use it import the layer's copy", async () => {
    for (const [stack, id] of handlers) {
      const bundle = bundleOf(stack, id);
      expect(existsSync(path.join(bundle, "node_modules", "sharp")), id).toBe(false);
    }
    const ingestData = await readFile(
      path.join(bundleOf("Ingest", "IngestData"), "packages", "functions", "src", "ingestData.mjs"),
      "utf8",
    );
    expect(ingestData).toMatch(/from\s*"sharp"|import\("sharp"\)|require\("sharp"\)/);
  });

  it("bundles Postgres (pg, kysely) only into functions that query it, and sharp only into those that make images", async () => {
    const postgresUsers = new Set([
      "IngestData",
      "ExpireData",
      "SweepExpirations",
      "MakePreviews",
      "Migrate",
      "CountCounterGaps",
      "CountStuckExposures",
      "ApiUpload",
      "ApiReads",
      "ApiDownload",
      "ApiOperations",
    ]);
    const thumbnailMakers = new Set(["IngestData", "IngestInfoImages", "IngestAllsky", "ApiDownload", "MakePreviews"]);
    for (const [stack, id, handler] of handlers) {
      const code = await readFile(path.join(bundleOf(stack, id), "packages", "functions", "src", `${handler}.mjs`), "utf8");
      // pg names its optional native binding, and kysely its query node kinds, in strings minification keeps.
      expect(code.includes("pg-native"), `${id} bundles pg`).toBe(postgresUsers.has(id));
      expect(code.includes("SelectQueryNode"), `${id} bundles kysely`).toBe(postgresUsers.has(id));
      expect(/["']sharp["']/.test(code), `${id} loads sharp`).toBe(thumbnailMakers.has(id));
    }
  });

  it("ships the project's own sharp with its linux-arm64 binary and libvips in the layer", async () => {
    const layer = path.join(bundleOf("Ingest", "SharpLayer"), "nodejs", "node_modules");
    const project = z
      .object({ version: z.string(), optionalDependencies: z.record(z.string()) })
      .parse(JSON.parse(await readFile(path.resolve("node_modules", "sharp", "package.json"), "utf8")));
    expect((await readManifest(path.join(layer, "sharp", "package.json"))).version).toBe(project.version);
    for (const name of ["@img/sharp-linux-arm64", "@img/sharp-libvips-linux-arm64"]) {
      const installed = await readManifest(path.join(layer, name, "package.json"));
      expect(installed.version, name).toBe(project.optionalDependencies[name]);
    }
    const lib = path.join(layer, "@img", "sharp-linux-arm64", "lib");
    const [binary] = (await readdir(lib)).filter((file) => /^sharp-linux-arm64.*\.node$/.test(file));
    expect(binary).toBeDefined();
    const elf = await readFile(path.join(lib, binary ?? ""));
    // ELF header: the magic, then e_machine at byte 18; 183 is AArch64.
    expect(elf.subarray(0, 4).toString("latin1")).toBe("\x7fELF");
    expect(elf.readUInt16LE(18)).toBe(183);
    expect(existsSync(path.join(layer, "@img", "sharp-linux-x64")), "no x64 binary").toBe(false);
  });
});
