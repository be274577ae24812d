import { parseFileName } from "@archive/core/names/fileName";
import { atLeast, repeat, row, stats, type Row } from "./harness";
import { loadKeys } from "./inputs";
import type { BenchOptions } from "./suite";

const ORIGINAL_KEYS_PER_SECOND = 227_900;

/** Every key of keys_100k.txt.gz parsed and validated by parseFileName, as the original's validate + parse did. */
export async function benchNames(options: BenchOptions): Promise<Row[]> {
  const keys = loadKeys();
  let sink = 0;
  let rejected = 0;
  const pass = (): void => {
    for (const key of keys) {
      try {
        sink += parseFileName(key).baseFilename.length;
      } catch (error) {
        if (!(error instanceof Error)) throw error;
        rejected += 1;
      }
    }
  };
  const samples = await repeat(
    pass,
    { warmup: 3, minRuns: options.quick ? 5 : 15, maxRuns: 200, minTimeMs: options.quick ? 500 : 3000 },
    (ms) => keys.length / (ms / 1000),
  );
  if (sink === 0) throw new Error("no key was parsed");
  return [
    row({
      bench: "names",
      figure: `parse + validate (${keys.length.toLocaleString("en-US")} keys)`,
      unit: "keys/s",
      stats: stats(samples),
      better: "higher",
      original: ORIGINAL_KEYS_PER_SECOND,
      target: atLeast(2_300_000, "≥ 2.3 M/s (10×)"),
      note: rejected > 0 ? `${rejected} keys rejected over all runs` : undefined,
    }),
  ];
}
