import { existsSync, readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { z } from "zod";

export const benchDir = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(benchDir, "..");
/** Generated inputs too large for git (the 30 MB .fits.bz2); gitignored. */
export const cacheDir = process.env.BENCH_CACHE_DIR ?? join(benchDir, ".cache");

/** The shared inputs the original was measured with: `../shared/bench-inputs` beside the clone, or BENCH_INPUTS. */
export function inputsDir(): string {
  const candidates = [process.env.BENCH_INPUTS, resolve(repoRoot, "../shared/bench-inputs"), "/work/shared/bench-inputs"];
  for (const dir of candidates) {
    if (dir && existsSync(join(dir, "keys_100k.txt.gz"))) return dir;
  }
  throw new Error(`bench inputs not found (tried ${candidates.filter(Boolean).join(", ")}); set BENCH_INPUTS`);
}

export async function ensureCacheDir(): Promise<string> {
  await mkdir(cacheDir, { recursive: true });
  return cacheDir;
}

export function loadKeys(): string[] {
  const text = gunzipSync(readFileSync(join(inputsDir(), "keys_100k.txt.gz"))).toString("utf8");
  return text.split("\n").filter((line) => line.length > 0);
}

export function loadHeaderText(): Buffer {
  return readFileSync(join(inputsDir(), "header_8640.txt"));
}

const headerValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);

const eventsSchema = z.object({
  seed: z.number(),
  n_base: z.number().int(),
  bases: z.array(z.string()),
  headers: z.record(z.string(), z.record(z.string(), headerValue)),
  events: z.array(
    z.object({
      t: z.number(),
      kind: z.enum(["txt", "jpg", "fits10", "fits01"]),
      key: z.string(),
      seq: z.number().int(),
    }),
  ),
});

export type ExposureEvents = z.infer<typeof eventsSchema>;
export type ExposureEvent = ExposureEvents["events"][number];
export type HeaderObject = ExposureEvents["headers"][string];

export function loadEvents(): ExposureEvents {
  const text = gunzipSync(readFileSync(join(inputsDir(), "events_2000.json.gz"))).toString("utf8");
  return eventsSchema.parse(JSON.parse(text));
}

export interface SampleJpg {
  label: string;
  width: number;
  height: number;
  bytes: Buffer;
}

/** The two medium JPGs, named `…_<w>x<h>.jpg`. */
export function loadJpgs(): SampleJpg[] {
  const dir = join(inputsDir(), "jpg");
  const names = [
    "sro-kb001ms-20220629-00010442-EX10_1536x1024.jpg",
    "sro-kb001ms-20220629-00010452-EX10_3072x2048.jpg",
  ];
  return names.map((name) => {
    const match = /_(\d+)x(\d+)\.jpg$/.exec(name);
    const width = Number(match?.[1]);
    const height = Number(match?.[2]);
    return { label: `${width}×${height}`, width, height, bytes: readFileSync(join(dir, name)) };
  });
}
