import type { Row } from "./harness";

export const benchNames = ["names", "headers", "database", "thumbnails", "endToEnd", "coldStart", "reads", "conversions", "awsCalls", "previews"] as const;
export type BenchName = (typeof benchNames)[number];

export interface BenchOptions {
  /** Fewer repetitions, for development; figures are noisier. */
  quick: boolean;
}

export type Bench = (options: BenchOptions) => Promise<Row[]>;
