import { performance } from "node:perf_hooks";
import { z } from "zod";

/** Which way a figure improves: rates up, durations and sizes down. */
export type Better = "higher" | "lower";

export interface Target {
  /** The bound the figure must reach, in the figure's own unit. */
  value: number;
  /** A target met with equality counts as met. */
  better: Better;
  /** How the target reads in the table, e.g. "≥ 2.3 M/s". */
  label: string;
}

export interface Row {
  bench: string;
  figure: string;
  unit: string;
  median: number;
  min: number;
  max: number;
  samples: number;
  better: Better;
  original?: number;
  target?: Target;
  met?: boolean;
  note?: string;
}

// NaN (a figure not measured) crosses the IPC channel as null.
const figure = z.number().nullable().transform((value) => value ?? Number.NaN);
const targetSchema = z.object({ value: z.number(), better: z.enum(["higher", "lower"]), label: z.string() });

/** A row as it comes back from a benchmark's process. */
export const rowSchema: z.ZodType<Row, z.ZodTypeDef, unknown> = z.object({
  bench: z.string(),
  figure: z.string(),
  unit: z.string(),
  median: figure,
  min: figure,
  max: figure,
  samples: z.number(),
  better: z.enum(["higher", "lower"]),
  original: z.number().optional(),
  target: targetSchema.optional(),
  met: z.boolean().optional(),
  note: z.string().optional(),
});

/** A row for a figure that could not be measured, with the reason. */
export function notMeasured(bench: string, figure: string, reason: string, better: Better = "higher"): Row {
  return { bench, figure, unit: "", median: NaN, min: NaN, max: NaN, samples: 0, better, met: false, note: reason };
}

export interface Stats {
  median: number;
  min: number;
  max: number;
  samples: number;
}

export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  // Nearest-rank, so p99 of 500 samples is an observed value, never an interpolation.
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}

export function stats(values: readonly number[]): Stats {
  return {
    median: quantile(values, 0.5),
    min: Math.min(...values),
    max: Math.max(...values),
    samples: values.length,
  };
}

export interface RepeatOptions {
  /** Untimed runs first, so the JIT, caches and connections are warm. */
  warmup: number;
  minRuns: number;
  maxRuns: number;
  /** Keep repeating until this much time has been spent measuring (bounded by maxRuns). */
  minTimeMs: number;
}

/** Times `run` repeatedly; each sample is the value `toFigure` makes of one run's elapsed milliseconds. */
export async function repeat(
  run: () => Promise<void> | void,
  options: RepeatOptions,
  toFigure: (elapsedMs: number) => number = (ms) => ms,
): Promise<number[]> {
  for (let i = 0; i < options.warmup; i += 1) await run();
  const samples: number[] = [];
  const started = performance.now();
  while (
    samples.length < options.minRuns ||
    (samples.length < options.maxRuns && performance.now() - started < options.minTimeMs)
  ) {
    const t0 = performance.now();
    await run();
    samples.push(toFigure(performance.now() - t0));
  }
  return samples;
}

/** A rate target: the figure must be at least `value`. */
export function atLeast(value: number, label: string): Target {
  return { value, better: "higher", label };
}

/** A duration or size target: the figure must be at most `value`. */
export function atMost(value: number, label: string): Target {
  return { value, better: "lower", label };
}

export function row(
  init: Omit<Row, "median" | "min" | "max" | "samples" | "met"> & { stats: Stats },
): Row {
  const { stats: s, ...rest } = init;
  const met =
    init.target === undefined
      ? undefined
      : init.target.better === "higher"
        ? s.median >= init.target.value
        : s.median <= init.target.value;
  return { ...rest, median: s.median, min: s.min, max: s.max, samples: s.samples, met };
}

/** A figure measured once (a size, a count): median, min and max are the same value. */
export function single(value: number): Stats {
  return { median: value, min: value, max: value, samples: 1 };
}

/** How many times better than the original, whichever way "better" points. */
export function speedup(r: Row): number | undefined {
  if (r.original === undefined || r.original === 0 || r.median === 0) return undefined;
  return r.better === "higher" ? r.median / r.original : r.original / r.median;
}

export function formatNumber(value: number): string {
  if (Number.isNaN(value)) return "—";
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 1_000_000) return `${(value / 1_000_000).toFixed(2)} M`;
  if (abs >= 1_000) return Math.round(value).toLocaleString("en-US");
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  if (abs >= 1) return value.toFixed(2);
  return value.toFixed(3);
}

/** "18× faster" / "3.0× slower" against the original, whichever way the figure improves. */
export function versusOriginal(r: Row): string {
  const x = speedup(r);
  if (x === undefined) return "";
  const [up, down] = r.unit.endsWith("/s") || r.unit === "ms" ? ["faster", "slower"] : ["better", "worse"];
  const factor = x >= 1 ? x : 1 / x;
  return `${factor.toFixed(factor >= 10 ? 0 : 1)}× ${x >= 1 ? up : down}`;
}

export function formatTable(rows: readonly Row[]): string {
  const header = ["bench", "figure", "median", "min", "max", "unit", "n", "original", "vs original", "target", "met"];
  const lines = rows.map((r) => {
    return [
      r.bench,
      r.figure,
      formatNumber(r.median),
      formatNumber(r.min),
      formatNumber(r.max),
      r.unit,
      String(r.samples),
      r.original === undefined ? "" : formatNumber(r.original),
      versusOriginal(r),
      r.target?.label ?? "",
      r.met === undefined ? "" : r.met ? "✓" : "✗",
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? "").length)));
  const numeric = new Set([2, 3, 4, 6, 7, 8]);
  const render = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (numeric.has(i) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  const out = [render(header), widths.map((w) => "-".repeat(w)).join("  ")];
  for (const l of lines) out.push(render(l));
  const notes = rows.filter((r) => r.note).map((r) => `  - ${r.bench} / ${r.figure}: ${r.note ?? ""}`);
  if (notes.length > 0) out.push("", "notes:", ...notes);
  return out.join("\n");
}

/** The markdown form of the same table, for the README's Performance section. */
export function formatMarkdown(rows: readonly Row[]): string {
  const out = [
    "| bench | figure | median | min | max | unit | original | vs original | target | met |",
    "|---|---|---:|---:|---:|---|---:|---:|---|:-:|",
  ];
  for (const r of rows) {
    out.push(
      `| ${r.bench} | ${r.figure} | ${formatNumber(r.median)} | ${formatNumber(r.min)} | ${formatNumber(r.max)} | ${r.unit} | ${
        r.original === undefined ? "" : formatNumber(r.original)
      } | ${versusOriginal(r)} | ${r.target?.label ?? ""} | ${
        r.met === undefined ? "" : r.met ? "✓" : "✗"
      } |`,
    );
  }
  return out.join("\n");
}
