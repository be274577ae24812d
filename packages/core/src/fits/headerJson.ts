import type { FitsHeader, FitsValue } from "./header";

/** The `header` column: keyword → value, plus "COMMENT" and "HISTORY" lists when present. */
export function headerToJson(header: FitsHeader): string {
  const json: Record<string, FitsValue | string[]> = { ...header.cards };
  if (header.comments.length > 0) json.COMMENT = header.comments;
  if (header.history.length > 0) json.HISTORY = header.history;
  return JSON.stringify(json);
}

/**
 * A header given as a JSON object (an upload request's "header", or the `header` column read back): keyword → value,
 * with "COMMENT" and "HISTORY" as lists. Values that are not FITS values are listed in `problems`, never thrown.
 */
export function headerFromObject(object: Record<string, unknown>): FitsHeader {
  const header: FitsHeader = { cards: Object.create(null) as Record<string, FitsValue>, comments: [], history: [], problems: [] };
  for (const [keyword, value] of Object.entries(object)) {
    if (keyword === "COMMENT" || keyword === "HISTORY") {
      const lines = Array.isArray(value) ? value : [value];
      const list = keyword === "COMMENT" ? header.comments : header.history;
      for (const line of lines) {
        if (typeof line === "string") list.push(line);
        else header.problems.push(`${keyword}: ${JSON.stringify(line) ?? String(line)} is not text`);
      }
    } else if (isFitsValue(value)) {
      header.cards[keyword] = value;
    } else {
      header.problems.push(`${keyword}: ${describeJson(value)} is not a FITS value (text, number, logical or null)`);
    }
  }
  return header;
}

function isFitsValue(value: unknown): value is FitsValue {
  return value === null || typeof value === "string" || typeof value === "boolean" ||
    (typeof value === "number" && Number.isFinite(value));
}

function describeJson(value: unknown): string {
  return Array.isArray(value) ? "a list" : value === undefined ? "undefined" : typeof value === "object" ? "an object" : String(value);
}
