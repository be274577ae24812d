import { isDeepStrictEqual } from "node:util";
import { z } from "zod";

/**
 * A difference between what the running system wrote (live) and what the archive wrote in shadow mode, and how one
 * value is compared with another: the shared vocabulary of the shadow comparison's parts.
 */
export type ComparedTable = "images" | "recent-uploads-log" | "info-images" | "data-expiration-tracker";

export interface Difference {
  table: ComparedTable;
  /** The row's or item's identity: a base filename, `{site} {filename}`, a pk. */
  key: string;
  /** The column or attribute (`header.FILTER` for one header card), or `(row)` / `(item)` for presence. */
  field: string;
  /** undefined: absent on that side. */
  live: unknown;
  shadow: unknown;
  /** Set when CONTRACTS.md asks for exactly this difference; such differences are listed but do not fail a run. */
  explanation?: string;
}

export interface TableSummary {
  table: ComparedTable;
  /** Rows or items looked at (present on either side). */
  compared: number;
  /** Of those, how many show a difference that is not explained. */
  differing: number;
  onlyLive: number;
  onlyShadow: number;
}

export const PRESENCE = { row: "(row)", item: "(item)" } as const;

/** The counts of a table's comparison from its differences. */
export function summarize(table: ComparedTable, compared: number, differences: readonly Difference[]): TableSummary {
  const unexplained = differences.filter((d) => d.table === table && d.explanation === undefined);
  const absences = unexplained.filter((d) => d.field === PRESENCE.row || d.field === PRESENCE.item);
  return {
    table,
    compared,
    differing: new Set(unexplained.map((d) => d.key)).size,
    onlyLive: absences.filter((d) => d.shadow === undefined).length,
    onlyShadow: absences.filter((d) => d.live === undefined).length,
  };
}

export interface Tolerances {
  /** Degrees: right ascensions this close are the same (the two systems parse and round independently). */
  raDegrees: number;
  /** Timestamps of rows (capture_date, sort_date): DATE-OBS kept to microseconds by one system, milliseconds by the other. */
  dateMs: number;
  /** Epoch-second attributes of items (upload time, expiries): each system stamps the time it processed the event. */
  itemSeconds: number;
}

export const DEFAULT_TOLERANCES: Tolerances = { raDegrees: 1e-6, dateMs: 1, itemSeconds: 300 };

/** Floating-point columns parsed from the same card text: equal but for the last bits. */
export function sameNumber(a: number, b: number, absolute = 0): boolean {
  return Math.abs(a - b) <= Math.max(absolute, 1e-9 * Math.max(Math.abs(a), Math.abs(b)));
}

/** Values as the database driver or the document client returns them: numbers, strings, booleans, dates, maps, lists. */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  if (typeof a === "number" && typeof b === "number") return sameNumber(a, b);
  return isDeepStrictEqual(a, b);
}

/** A value for a one-line report: JSON, dates as ISO text, absent as "(absent)". */
export function showValue(value: unknown): string {
  if (value === undefined) return "(absent)";
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Set) return JSON.stringify([...value]);
  return JSON.stringify(value) ?? String(value);
}

const jsonObjectSchema = z.record(z.unknown());

/** A header's JSON text as an object of card values; undefined when it is not a JSON object. */
export function parseHeaderObject(text: unknown): Record<string, unknown> | undefined {
  if (typeof text !== "string") return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    if (error instanceof SyntaxError) return undefined;
    throw error;
  }
  const object = jsonObjectSchema.safeParse(parsed);
  return object.success && !Array.isArray(parsed) ? object.data : undefined;
}

/** One difference per key of two maps (a header, an item's `header` map) whose values are not the same. */
export function mapDifferences(
  base: Omit<Difference, "field" | "live" | "shadow">,
  prefix: string,
  live: Record<string, unknown>,
  shadow: Record<string, unknown>,
): Difference[] {
  const keys = [...new Set([...Object.keys(live), ...Object.keys(shadow)])].sort();
  return keys
    .filter((key) => !sameValue(live[key], shadow[key]))
    .map((key) => ({ ...base, field: `${prefix}.${key}`, live: live[key], shadow: shadow[key] }));
}
