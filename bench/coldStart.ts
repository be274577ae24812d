import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { build } from "esbuild";
import { z } from "zod";
import { atMost, notMeasured, quantile, repeat, row, single, stats, type Row } from "./harness";
import { ensureCacheDir, repoRoot } from "./inputs";
import type { BenchOptions } from "./suite";

const run = promisify(execFile);
const FUNCTIONS_DIR = join(repoRoot, "packages/functions/src");
const ORIGINAL_IMPORT_MS = 594;
const IMPORT_TARGET_MS = 100;
const BUNDLE_TARGET_BYTES = 5e6;

/**
 * The environment a deployed function gets (config.ts names); nothing is contacted at import, so any value that
 * validates will do.
 */
const HANDLER_ENV: Record<string, string> = {
  STAGE: "bench",
  AWS_REGION: "us-east-1",
  AWS_ACCESS_KEY_ID: "bench",
  AWS_SECRET_ACCESS_KEY: "bench",
  BUCKET_NAME: "bench-bucket",
  DATABASE_URL: "postgresql://postgres@127.0.0.1:5432/postgres",
  DATASTREAM_QUEUE_URL: "https://sqs.us-east-1.amazonaws.com/000000000000/datastreamIncomingQueue-bench",
  POWERTOOLS_SERVICE_NAME: "archive-bench",
};

/** A handler's bundle: the entry file, and the bytes that ship and that an import loads (entry + static chunks). */
interface Bundle {
  file: string;
  bytes: number;
  loadedBytes: number;
  chunks: number;
}

/**
 * SST v2's own esbuild options for an ESM nodejs22.x function (sst/runtime/handlers/node.js), with the stack's
 * externals and code splitting (stacks/functions.ts): what is only imported dynamically goes to chunks beside the entry.
 */
async function bundle(handler: string, outDir: string): Promise<Bundle> {
  // .js (ESM by the root package.json) keeps the bundles out of `eslint .`, which ignores **/*.js; SST names them .mjs.
  const dir = join(outDir, handler);
  const result = await build({
    entryPoints: [join(FUNCTIONS_DIR, `${handler}.ts`)],
    outdir: dir,
    bundle: true,
    splitting: true,
    metafile: true,
    platform: "node",
    format: "esm",
    target: "esnext",
    mainFields: ["module", "main"],
    keepNames: true,
    // sharp comes from a layer; pg-native is an optional require pg never makes. @aws-sdk is bundled: we pin our version.
    external: ["sharp", "pg-native"],
    banner: {
      js: [
        "import { createRequire as topLevelCreateRequire } from 'module';",
        "const require = topLevelCreateRequire(import.meta.url);",
        'import { fileURLToPath as topLevelFileUrlToPath, URL as topLevelURL } from "url"',
        'const __dirname = topLevelFileUrlToPath(new topLevelURL(".", import.meta.url))',
      ].join("\n"),
    },
    sourcemap: false,
    minify: true,
    logLevel: "silent",
  });
  const outputs = result.metafile.outputs;
  // Dynamically imported modules are entry points too, of their own chunks.
  const entry = Object.keys(outputs).find((path) => outputs[path]?.entryPoint?.endsWith(`packages/functions/src/${handler}.ts`));
  if (entry === undefined) throw new Error(`esbuild wrote no entry for ${handler}`);
  const loaded = new Set<string>();
  const visit = (path: string): void => {
    if (loaded.has(path) || outputs[path] === undefined) return;
    loaded.add(path);
    for (const imported of outputs[path].imports) if (imported.kind === "import-statement") visit(imported.path);
  };
  visit(entry);
  const sizeOf = (paths: Iterable<string>) => [...paths].reduce((sum, path) => sum + (outputs[path]?.bytes ?? 0), 0);
  return {
    file: join(repoRoot, entry),
    bytes: sizeOf(Object.keys(outputs)),
    loadedBytes: sizeOf(loaded),
    chunks: Object.keys(outputs).length,
  };
}

async function handlers(): Promise<string[]> {
  const entries = await readdir(FUNCTIONS_DIR, { withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts"))
    .map((entry) => entry.name.slice(0, -3))
    .sort();
}

const timing = z.object({ importMs: z.number(), sinceStartMs: z.number(), exports: z.array(z.string()) });

/** A fresh `node` process imports the bundle; it reports the import's own duration. */
async function timeImport(file: string): Promise<z.infer<typeof timing>> {
  const script = [
    "const t0 = performance.now();",
    `const m = await import(${JSON.stringify(pathToFileURL(file).href)});`,
    "const t1 = performance.now();",
    "process.stdout.write(JSON.stringify({ importMs: t1 - t0, sinceStartMs: t1, exports: Object.keys(m) }));",
    "process.exit(0);",
  ].join("\n");
  const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...HANDLER_ENV },
    maxBuffer: 1024 * 1024,
  });
  return timing.parse(JSON.parse(stdout));
}

async function bareNodeMs(): Promise<number[]> {
  return repeat(
    async () => {
      await run(process.execPath, ["-e", "0"]);
    },
    { warmup: 1, minRuns: 5, maxRuns: 5, minTimeMs: 0 },
  );
}

async function directorySize(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return total;
}

/** sharp's native part (its addon and libvips), which the Lambda gets from the layer rather than the bundle. */
async function sharpNativeBytes(): Promise<{ bytes: number; packages: string[] }> {
  const dir = join(repoRoot, "node_modules/@img");
  const names = (await readdir(dir)).filter((name) => name.startsWith("sharp-"));
  let bytes = 0;
  for (const name of names) bytes += await directorySize(join(dir, name));
  return { bytes, packages: names };
}

/** `npm run synth` output, when there is one: function name (lower camel) → bundle bytes, and the sharp layer's bytes. */
async function synthBundles(): Promise<{ stage: string; functions: Map<string, number>; sharpLayer?: number } | undefined> {
  const root = join(repoRoot, "synth");
  const stages = existsSync(root) ? (await readdir(root)).sort((a) => (a === "dev" ? -1 : 1)) : [];
  const stage = stages.find((name) => existsSync(join(root, name, "bundles")));
  if (stage === undefined) return undefined;
  const functions = new Map<string, number>();
  let sharpLayer: number | undefined;
  for (const dir of await readdir(join(root, stage, "bundles"))) {
    const full = join(root, stage, "bundles", dir);
    if (dir.includes("SharpLayer")) sharpLayer = await directorySize(full);
    const handlerDir = join(full, "packages/functions/src");
    if (!existsSync(handlerDir)) continue;
    // With code splitting a function's directory holds its entry and its chunks: its bundle is all of them.
    const files = (await readdir(handlerDir)).filter((file) => file.endsWith(".mjs"));
    let bytes = 0;
    for (const file of files) bytes += (await stat(join(handlerDir, file))).size;
    for (const file of files) functions.set(file.slice(0, -4), bytes);
  }
  return { stage, functions, sharpLayer };
}

function bundleNote(outDir: string): string {
  return `bundled by the bench with SST v2's esbuild options for ESM (esnext, keepNames, createRequire banner, minify, splitting), external sharp + pg-native; @aws-sdk v3 bundled (we pin our own version, not the runtime's); in ${outDir}`;
}

export async function benchColdStart(options: BenchOptions): Promise<Row[]> {
  const outDir = join(await ensureCacheDir(), "bundles");
  await rm(outDir, { recursive: true, force: true });
  const names = await handlers();
  const synth = await synthBundles();
  const rows: Row[] = [];
  const runs = options.quick ? 3 : 7;
  for (const name of names) {
    let built: Bundle;
    try {
      built = await bundle(name, outDir);
    } catch (error) {
      const reason = error instanceof Error ? error.message.split("\n").slice(0, 2).join(" ") : String(error);
      rows.push(notMeasured("coldStart", `${name}: bundle failed`, reason, "lower"));
      continue;
    }
    const { file, bytes, loadedBytes, chunks } = built;
    const synthBytes = synth?.functions.get(name);
    const notes = [
      name === names[0] ? bundleNote(outDir) : undefined,
      `${chunks} files; loaded at import (entry + its static chunks): ${(loadedBytes / 1e6).toFixed(3)} MB`,
      synthBytes === undefined ? undefined : `synth/${synth?.stage ?? ""} bundle: ${(synthBytes / 1e6).toFixed(2)} MB`,
    ].filter((n) => n !== undefined);
    rows.push(
      row({
        bench: "coldStart",
        figure: `${name}: bundle`,
        unit: "MB",
        stats: single(bytes / 1e6),
        better: "lower",
        target: atMost(BUNDLE_TARGET_BYTES / 1e6, "< 5 MB"),
        note: notes.length > 0 ? notes.join("; ") : undefined,
      }),
    );
    const samples: number[] = [];
    let exported: string[] = [];
    await repeat(
      async () => {
        const t = await timeImport(file);
        samples.push(t.importMs);
        exported = t.exports;
      },
      { warmup: 1, minRuns: runs, maxRuns: runs, minTimeMs: 0 },
    );
    const measured = samples.slice(-runs);
    rows.push(
      row({
        bench: "coldStart",
        figure: `${name}: import in a fresh node`,
        unit: "ms",
        stats: stats(measured),
        better: "lower",
        original: name === "ingestData" ? ORIGINAL_IMPORT_MS : undefined,
        target: atMost(IMPORT_TARGET_MS, "< 100 ms"),
        note: exported.includes("handler") ? undefined : `exports no handler (${exported.join(", ")})`,
      }),
    );
  }
  const bare = await bareNodeMs();
  const sharpNative = await sharpNativeBytes();
  rows.push(
    row({
      bench: "coldStart",
      figure: "bare `node -e 0` process, spawn to exit",
      unit: "ms",
      stats: { ...stats(bare), median: quantile(bare, 0.5) },
      better: "lower",
      original: 9,
      note: "the original's bare interpreter start, for scale: import figures above exclude Node's own start",
    }),
    row({
      bench: "coldStart",
      figure: "sharp native library (not in bundles)",
      unit: "MB",
      stats: single(sharpNative.bytes / 1e6),
      better: "lower",
      note: `${sharpNative.packages.join(" + ")} on this machine (linux-x64); Lambda loads the linux-arm64 build from the sharp layer${
        synth?.sharpLayer === undefined ? "" : ` (synth/${synth.stage}: ${(synth.sharpLayer / 1e6).toFixed(1)} MB unzipped)`
      }`,
    }),
  );
  return rows;
}
