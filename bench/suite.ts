import type { Row } from "./harness";

export const benchNames = ["names", "headers", "database", "thumbnails", "endToEnd", "coldStart"] as const;
export type BenchName = (typeof benchNames)[number];

export interface BenchOptions {
  /** Fewer repetitions, for development; figures are noisier. */
  quick: boolean;
}

export type Bench = (options: BenchOptions) => Promise<Row[]>;

/** Imported lazily so a benchmark whose code has not landed yet fails alone. */
export async function loadBench(name: BenchName): Promise<Bench> {
  switch (name) {
    case "names":
      return (await import("./names")).benchNames;
    case "headers":
      return (await import("./headers")).benchHeaders;
    case "database":
      return (await import("./database")).benchDatabase;
    case "thumbnails":
      return (await import("./thumbnails")).benchThumbnails;
    case "endToEnd":
      return (await import("./endToEnd")).benchEndToEnd;
    case "coldStart":
      return (await import("./coldStart")).benchColdStart;
  }
}
