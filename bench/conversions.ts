import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { z } from "zod";
import { atMost, notMeasured, row, single, stats, type Row } from "./harness";
import { ensureCacheDir, inputsDir } from "./inputs";
import type { BenchOptions } from "./suite";
import { forkWorker } from "./worker";

/*
 * The conversions POST /download makes (downloads/conversions.ts), on a full frame: a synthetic 9576×6388 16-bit sky
 * (gradient, photon and read noise, 6,000 stars; fixed seed) tile-compressed RICE_1 by astropy, as the sites' .fits.fz
 * are. Each conversion runs in a fresh Node process (conversionWorker.ts), so its time is a cold function's first call
 * and its peak RSS belongs to it alone. The function that makes them has 3008 MB and 29 s (API Gateway waits 30 s).
 */

export const conversionKinds = ["plainFits", "tiff"] as const;
export type ConversionKind = (typeof conversionKinds)[number];

export const workerResultSchema = z.object({
  kind: z.enum(conversionKinds),
  inputBytes: z.number(),
  outputBytes: z.number(),
  firstMs: z.number(),
  secondMs: z.number(),
  /** RSS after the imports and reading the input, before converting. */
  baselineRssMb: z.number(),
  /** process.resourceUsage().maxRSS after the first conversion: the process's high-water mark. */
  peakRssMb: z.number(),
  /** The second call's time by step (tiff: decode, stretch + sharp TIFF, bzip2) and the TIFF's size before bzip2. */
  parts: z.record(z.string(), z.number()),
});
export type WorkerResult = z.infer<typeof workerResultSchema>;

const WIDTH = 9576;
const HEIGHT = 6388;
const SEED = 20220629;
const STARS = 6000;
/** The version of the frame below: a change to the script must change the cached file's name. */
const FRAME_NAME = `synthetic-${WIDTH}x${HEIGHT}-u16-s${SEED}-v1.fits.fz`;
const PYTHON = "/usr/bin/python3";
/** The download function (stacks/Api.ts): DOWNLOAD_MEMORY_MB, and API Gateway's 30 s less one. */
const FUNCTION_MEMORY_MB = 3008;
const FUNCTION_TIMEOUT_S = 29;

/**
 * The frame, written with astropy: numpy draws the sky (≈900 ADU with a gradient), stars (Gaussian PSFs, fluxes from a
 * Pareto law, some saturated) and the noise (photon noise at gain 0.85 e-/ADU plus 3.2 e- read noise), rounds to
 * uint16, and CompImageHDU writes it RICE_1 with astropy's default tiles (one row each, as fpack), BZERO 32768, under
 * the shared bench header (its structural cards dropped).
 */
const FRAME_SCRIPT = `
import json, sys
import numpy as np
import astropy
from astropy.io import fits

out, header_path, width, height, seed, stars = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:7])
rng = np.random.default_rng(seed)
gain, read_noise = 0.85, 3.2
ys = np.linspace(-1, 1, height, dtype=np.float32)[:, None]
xs = np.linspace(-1, 1, width, dtype=np.float32)[None, :]
signal = (900 + 150 * xs + 80 * ys - 120 * (xs * xs + ys * ys)).astype(np.float32)
sx = rng.uniform(0, width, stars)
sy = rng.uniform(0, height, stars)
flux = 2000 * rng.pareto(1.2, stars) + 300
sigma = rng.uniform(1.4, 2.4, stars)
r = 12
for i in range(stars):
    x0, y0 = int(sx[i]), int(sy[i])
    xa, xb, ya, yb = max(0, x0 - r), min(width, x0 + r + 1), max(0, y0 - r), min(height, y0 + r + 1)
    yy, xx = np.mgrid[ya:yb, xa:xb]
    r2 = (xx - sx[i]) ** 2 + (yy - sy[i]) ** 2
    signal[ya:yb, xa:xb] += (flux[i] / (2 * np.pi * sigma[i] ** 2) * np.exp(-r2 / (2 * sigma[i] ** 2))).astype(np.float32)
noise = rng.standard_normal((height, width), dtype=np.float32)
noise *= np.sqrt(signal / gain + (read_noise / gain) ** 2)
signal += noise
del noise
np.clip(signal, 0, 65535, out=signal)
data = np.rint(signal).astype(np.uint16)
del signal
header = fits.Header.fromstring(open(header_path, "rb").read().decode("latin1"))
for keyword in ["SIMPLE", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "EXTEND", "BZERO", "BSCALE"]:
    header.remove(keyword, ignore_missing=True)
hdu = fits.CompImageHDU(data, header=header, compression_type="RICE_1")
fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(out, overwrite=True, checksum=False)
print(json.dumps({"astropy": astropy.__version__, "numpy": np.__version__,
                  "saturated": int((data == 65535).sum()), "median": float(np.median(data[::16, ::16]))}))
`;

const frameInfoSchema = z.object({ astropy: z.string(), numpy: z.string(), saturated: z.number(), median: z.number() });

interface Frame {
  path: string;
  bytes: number;
  info: z.infer<typeof frameInfoSchema>;
  /** How long writing it took, when it was written now; null when it came from the cache. */
  madeSeconds: number | null;
}

/** Why astropy cannot be used here, or undefined when it can. */
function astropyMissing(): string | undefined {
  if (!existsSync(PYTHON)) return `${PYTHON} is missing`;
  const probe = spawnSync(PYTHON, ["-c", "import astropy, numpy"], { encoding: "utf8" });
  return probe.status === 0 ? undefined : `${PYTHON} has no astropy/numpy (${probe.stderr.trim().split("\n").at(-1) ?? ""})`;
}

async function makeFrame(path: string, infoPath: string): Promise<void> {
  const partial = `${path}.partial`;
  const child = spawn(
    PYTHON,
    ["-", partial, join(inputsDir(), "header_8640.txt"), String(WIDTH), String(HEIGHT), String(SEED), String(STARS)],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  let stdout = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", resolve);
  });
  child.stdin.end(FRAME_SCRIPT);
  const code = await exited;
  if (code !== 0) {
    await rm(partial, { force: true });
    throw new Error(`the frame script exited with ${code}`);
  }
  const info = frameInfoSchema.parse(JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}"));
  await writeFile(infoPath, JSON.stringify(info));
  await rename(partial, path);
}

/** The cached .fits.fz, written first when missing; a string says why it cannot be. */
async function frame(): Promise<Frame | string> {
  const dir = await ensureCacheDir();
  const path = join(dir, FRAME_NAME);
  const infoPath = `${path}.json`;
  let madeSeconds: number | null = null;
  if (!existsSync(path) || !existsSync(infoPath)) {
    const missing = astropyMissing();
    // The archive reads RICE_1 (fits/tileCompression.ts riceDecode) but has no RICE_1 encoder to write one.
    if (missing !== undefined) return `${missing}, and the archive's own code decodes RICE_1 but cannot write it`;
    const t0 = performance.now();
    await makeFrame(path, infoPath);
    madeSeconds = (performance.now() - t0) / 1000;
  }
  const info = frameInfoSchema.parse(JSON.parse(await readFile(infoPath, "utf8")));
  return { path, bytes: (await stat(path)).size, info, madeSeconds };
}

/** One conversion in a fresh Node process (tsx, as every benchmark runs). */
function runWorker(kind: ConversionKind, path: string): Promise<WorkerResult> {
  return forkWorker("conversionWorker.ts", [kind, path], workerResultSchema);
}

const mb = (bytes: number) => bytes / 1e6;

export async function benchConversions(options: BenchOptions): Promise<Row[]> {
  const input = await frame();
  if (typeof input === "string") {
    return [{ ...notMeasured("conversions", "skipped: no .fits.fz frame", input, "lower"), met: undefined }];
  }
  const runs = options.quick ? 1 : 3;
  const rows: Row[] = [];
  const fz = `${WIDTH}×${HEIGHT} u16 .fits.fz (${mb(input.bytes).toFixed(1)} MB, RICE_1, astropy ${input.info.astropy})`;
  rows.push(
    row({
      bench: "conversions",
      figure: "input: .fits.fz frame",
      unit: "MB",
      stats: single(mb(input.bytes)),
      better: "lower",
      note: `${fz}; synthetic sky (median ${input.info.median} ADU, ${input.info.saturated} saturated pixels, ${STARS} stars, seed ${SEED}) under the shared bench header; ${
        input.madeSeconds === null ? "from bench/.cache" : `written now in ${input.madeSeconds.toFixed(0)} s`
      } (${FRAME_NAME})`,
    }),
  );
  const labels: Record<ConversionKind, string> = {
    plainFits: "plainFitsFromTileCompressed (.fz → plain FITS)",
    tiff: 'tiffOfFits(…, "fz", "arcsinh") (decode + stretch + sharp TIFF + bzip2)',
  };
  for (const kind of conversionKinds) {
    const results: WorkerResult[] = [];
    for (let i = 0; i < runs; i += 1) results.push(await runWorker(kind, input.path));
    const last = results.at(-1);
    if (last === undefined) continue;
    const firstMs = stats(results.map((r) => r.firstMs));
    const secondMs = stats(results.map((r) => r.secondMs));
    const peak = stats(results.map((r) => r.peakRssMb));
    const baseline = stats(results.map((r) => r.baselineRssMb));
    const budgetMs = FUNCTION_TIMEOUT_S * 1000;
    const partsNote =
      kind === "tiff"
        ? `; second call in the same process ${(secondMs.median / 1000).toFixed(1)} s = decode ${((last.parts.decodeMs ?? 0) / 1000).toFixed(1)} s + stretch & sharp TIFF ${((last.parts.tiffMs ?? 0) / 1000).toFixed(1)} s + bzip2 ${((last.parts.bzip2Ms ?? 0) / 1000).toFixed(1)} s (TIFF ${mb(last.parts.tiffBytes ?? 0).toFixed(1)} MB before bzip2)`
        : `; second call in the same process ${(secondMs.median / 1000).toFixed(2)} s`;
    rows.push(
      row({
        bench: "conversions",
        figure: `${labels[kind]}: first call, fresh process`,
        unit: "ms",
        stats: firstMs,
        better: "lower",
        target: atMost(20_000, "≤ 20 s"),
        note: `${runs} fresh processes; ${(firstMs.median / budgetMs * 100).toFixed(0)}% of the function's ${FUNCTION_TIMEOUT_S} s, before the S3 GET of the .fz and the PUT of the result${partsNote}; this machine's core (one thread: JS and WebAssembly), a Lambda vCPU may be slower`,
      }),
      row({
        bench: "conversions",
        figure: "  peak RSS (process high-water mark)",
        unit: "MB",
        stats: peak,
        better: "lower",
        target: atMost(FUNCTION_MEMORY_MB, `< ${FUNCTION_MEMORY_MB.toLocaleString("en-US")} MB`),
        note: `process.resourceUsage().maxRSS (MiB) after the first call, ${(peak.median / FUNCTION_MEMORY_MB * 100).toFixed(0)}% of the function's ${FUNCTION_MEMORY_MB} MB; ${baseline.median.toFixed(0)} MB before converting (Node, tsx, the modules and the ${mb(input.bytes).toFixed(0)} MB input), so the conversion itself adds ≈ ${(peak.median - baseline.median).toFixed(0)} MB`,
      }),
      row({
        bench: "conversions",
        figure: "  output size",
        unit: "MB",
        stats: single(mb(last.outputBytes)),
        better: "lower",
        note: kind === "plainFits" ? `${(last.outputBytes / input.bytes).toFixed(2)}× the .fz` : "the .tif.bz2 the user downloads",
      }),
    );
  }
  return rows;
}
