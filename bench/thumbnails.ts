import { spawn, spawnSync } from "node:child_process";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import sharp from "sharp";
import { z } from "zod";
import { makeThumbnail } from "@archive/core/exposures/thumbnails";
import { atMost, repeat, row, single, stats, type Row } from "./harness";
import { loadJpgs } from "./inputs";
import type { BenchOptions } from "./suite";

const HEIGHT = 128;
/** The original's Pillow thumbnail() + save, ms per thumbnail, by input width. */
const ORIGINAL_MS: Readonly<Record<number, number>> = { 1536: 3.35, 3072: 8.95 };
const MEMORY_TARGET_MB = 256;
/** Ours and Pillow take turns in rounds of this many thumbnails, so both see the same load on a busy machine. */
const RUNS_PER_TURN = 10;

/**
 * The original's thumbnail in Pillow: thumbnail() (which drafts the JPEG decode to a reduced scale, 384×256 for both
 * inputs, then resamples) and save() at Pillow's default quality 75. It reads the jpgs (base64, one JSON line), then
 * answers each `{"index", "runs"}` line with the runs' times in ms.
 */
const PILLOW_SCRIPT = `
import base64, io, json, sys, time
import PIL
from PIL import Image
height = int(sys.argv[1])
jpgs = [base64.b64decode(jpg) for jpg in json.loads(sys.stdin.readline())["jpgs"]]
print(json.dumps({"version": PIL.__version__}), flush=True)
for line in sys.stdin:
    request = json.loads(line)
    samples = []
    for _ in range(request["runs"]):
        t0 = time.perf_counter()
        image = Image.open(io.BytesIO(jpgs[request["index"]]))
        image.thumbnail((image.width, height))
        image.save(io.BytesIO(), "JPEG")
        samples.append((time.perf_counter() - t0) * 1000)
    print(json.dumps(samples), flush=True)
`;

/** Pillow on this machine, in a python3 of its own, making the same thumbnails. */
interface Pillow {
  version: string;
  time(index: number, runs: number): Promise<number[]>;
  close(): void;
}

/** The first python3 that has Pillow (BENCH_PYTHON first; pyenv's python3 may lack Debian's python3-pil). */
function pythonWithPillow(): string | undefined {
  const candidates = [process.env.BENCH_PYTHON, "python3", "/usr/bin/python3"];
  return candidates.find(
    (python) => python !== undefined && spawnSync(python, ["-c", "import PIL"], { stdio: "ignore" }).status === 0,
  );
}

async function startPillow(jpgs: readonly Buffer[]): Promise<Pillow | undefined> {
  const python = pythonWithPillow();
  if (python === undefined) return undefined;
  const child = spawn(python, ["-c", PILLOW_SCRIPT, String(HEIGHT)], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const answer = async (): Promise<unknown> => {
    const line = await lines.next();
    if (line.done === true) throw new Error(`${python} with Pillow ended before answering`);
    return JSON.parse(line.value);
  };
  child.stdin.write(`${JSON.stringify({ jpgs: jpgs.map((jpg) => jpg.toString("base64")) })}\n`);
  const { version } = z.object({ version: z.string() }).parse(await answer());
  return {
    version,
    async time(index, runs) {
      child.stdin.write(`${JSON.stringify({ index, runs })}\n`);
      return z.array(z.number()).parse(await answer());
    },
    close: () => child.stdin.end(),
  };
}

/**
 * One thumbnail at a time (as one Lambda invocation makes it), 128 px high, from the shared medium JPGs; beside the
 * original's figures, Pillow's on this machine when a python3 here has it.
 */
export async function benchThumbnails(options: BenchOptions): Promise<Row[]> {
  const rows: Row[] = [];
  const sharpThreads = sharp.concurrency();
  const jpgs = loadJpgs();
  const pillow = await startPillow(jpgs.map((jpg) => jpg.bytes));
  const minRuns = options.quick ? 20 : 60;
  const minTimeMs = options.quick ? 500 : 3000;
  for (const [index, jpg] of jpgs.entries()) {
    let outputBytes = 0;
    const ours = async () => {
      outputBytes = (await makeThumbnail(jpg.bytes, HEIGHT)).length;
    };
    const turn = { warmup: 0, minRuns: RUNS_PER_TURN, maxRuns: RUNS_PER_TURN, minTimeMs: 0 };
    for (let i = 0; i < 5; i += 1) await ours();
    await pillow?.time(index, 5);
    const samples: number[] = [];
    const pillowSamples: number[] = [];
    const started = performance.now();
    while (samples.length < minRuns || performance.now() - started < minTimeMs) {
      samples.push(...(await repeat(ours, turn)));
      if (pillow) pillowSamples.push(...(await pillow.time(index, RUNS_PER_TURN)));
    }
    const meta = await sharp(await makeThumbnail(jpg.bytes, HEIGHT)).metadata();
    const figure = `${jpg.label} → ${meta.width ?? "?"}×${meta.height ?? "?"} jpg`;
    const original = ORIGINAL_MS[jpg.width];
    const ourStats = stats(samples);
    const pillowStats = pillow ? { version: pillow.version, ...stats(pillowSamples) } : undefined;
    const versusPillow = pillowStats
      ? `; ${(ourStats.median / pillowStats.median).toFixed(2)}× the time of Pillow ${pillowStats.version} on this machine (median; min ${(ourStats.min / pillowStats.min).toFixed(2)}×, taking turns)`
      : "; no python3 with Pillow here (BENCH_PYTHON), so no same-machine figure";
    rows.push(
      row({
        bench: "thumbnails",
        figure,
        unit: "ms",
        stats: ourStats,
        better: "lower",
        original,
        target: original === undefined ? undefined : atMost(original, "< original (ratio < 1)"),
        note: `${(jpg.bytes.length / 1024).toFixed(0)} KB in (${meta.channels === 1 ? "greyscale" : "colour"}), ${(outputBytes / 1024).toFixed(1)} KB out; sharp ${sharp.versions.sharp}, libvips ${sharp.versions.vips}, ${sharpThreads} libvips threads, sequential calls${versusPillow}`,
      }),
    );
    if (pillowStats) {
      rows.push(
        row({
          bench: "thumbnails",
          figure: `${figure}, Pillow ${pillowStats.version} here`,
          unit: "ms",
          stats: pillowStats,
          better: "lower",
          original,
          note: `the original's code path (Image.thumbnail() + save() at quality 75) on this machine, in turns with ours: its "vs original" is this run's machine against the original's quieter one; ours takes ${ourStats.median.toFixed(2)} ms`,
        }),
      );
    }
  }
  pillow?.close();
  const maxRssMb = process.resourceUsage().maxRSS / 1024;
  rows.push(
    row({
      bench: "thumbnails",
      figure: "peak memory (RSS high-water of this process)",
      unit: "MB",
      stats: single(maxRssMb),
      better: "lower",
      target: atMost(MEMORY_TARGET_MB, `< ${MEMORY_TARGET_MB} MB`),
      note: "process.resourceUsage().maxRSS of the thumbnail benchmark's own Node process (tsx, inputs and sharp included; Pillow's python3 not)",
    }),
  );
  return rows;
}
