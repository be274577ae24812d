import { cardTextOf } from "./cards";
import { CARD_LENGTH, type FitsHeader, type FitsValue } from "./header";

/** A header as typed JSON: keyword → value, plus "COMMENT" and "HISTORY" lists when present. */
export type HeaderObject = Record<string, FitsValue | string[]>;

/** The typed form (`images.header_json`, the info and allsky items' header): keyword → value, COMMENT/HISTORY lists. */
export function headerToObject(header: FitsHeader): HeaderObject {
  const object: HeaderObject = { ...header.cards };
  if (header.comments.length > 0) object.COMMENT = header.comments;
  if (header.history.length > 0) object.HISTORY = header.history;
  return object;
}

/** The typed form as JSON text. */
export function headerToJson(header: FitsHeader): string {
  return JSON.stringify(headerToObject(header));
}

/**
 * The `images.header` column exactly as the replaced service (ptr_data's scan_header_file) wrote it, because the old
 * read API and the frontend read it: Python's `json.dumps` (", " and ": ", non-ASCII escaped) of keyword → a string
 * per card, in card order. Per 80-column card: the keyword is columns 1–8 trimmed; the value is read from columns 11–79
 * (column 80 is never read), as the text between the first two quotes, trimmed, when a quote comes before any '/',
 * else the text before the first '/', trimmed. So numbers are kept as written ("30.000", "1.50E+00"), logicals are
 * "T"/"F", an undefined value is "", a repeated keyword keeps its last value, COMMENT and HISTORY hold their last card's
 * text as that rule reads it, a blank card is the key "", and "END" is "" — as in every row the old service wrote.
 * A header with no card text (sent as JSON, or rebuilt from a .fz table) is written as its cards would read: a string
 * trimmed, a number as its JSON text, a logical T/F, an undefined value "".
 */
export function headerAsWritten(header: FitsHeader): string {
  const text = cardTextOf(header);
  return pythonJsonObject(text === undefined ? valuesOfTypedHeader(header) : valuesAsWritten(text));
}

/** Each card's value as the replaced service read it, up to and including END. */
function valuesAsWritten(text: string): Map<string, string> {
  const values = new Map<string, string>();
  // cards are split as cards.ts splits them: at a newline or after 80 characters, a trailing CR dropped
  let newline = -1;
  for (let position = 0; position < text.length; ) {
    if (newline < position) {
      newline = text.indexOf("\n", position);
      if (newline < 0) newline = text.length;
    }
    const atNewline = newline <= position + CARD_LENGTH;
    const end = atNewline ? newline : Math.min(position + CARD_LENGTH, text.length);
    const line = text.slice(position, end > position && text.charCodeAt(end - 1) === 13 ? end - 1 : end);
    position = atNewline ? end + 1 : end;
    if (line.length === 0) continue;
    const [keyword, value] = cardAsWritten(line);
    values.set(keyword, value);
    if (keyword === "END") break;
  }
  return values;
}

/** One card (a shorter line is blank-padded to 80 columns): [keyword, value] by the replaced service's rule. */
function cardAsWritten(line: string): [string, string] {
  // columns 11-79; the blanks of a short line's padding would only be trimmed
  const field = line.slice(10, CARD_LENGTH - 1);
  const slash = field.indexOf("/");
  const quote = field.indexOf("'");
  let value: string;
  if (quote >= 0 && (slash < 0 || quote < slash)) {
    const closing = field.indexOf("'", quote + 1);
    value = field.slice(quote + 1, closing < 0 ? field.length : closing).trim();
  } else {
    value = (slash < 0 ? field : field.slice(0, slash)).trim();
  }
  return [line.slice(0, 8).trim(), value];
}

function valuesOfTypedHeader(header: FitsHeader): Map<string, string> {
  const values = new Map<string, string>();
  for (const [keyword, value] of Object.entries(header.cards)) values.set(keyword, typedValueAsWritten(value));
  const lastComment = header.comments.at(-1);
  const lastHistory = header.history.at(-1);
  if (lastComment !== undefined) values.set("COMMENT", cardAsWritten(`COMMENT ${lastComment}`)[1]);
  if (lastHistory !== undefined) values.set("HISTORY", cardAsWritten(`HISTORY ${lastHistory}`)[1]);
  values.set("END", "");
  return values;
}

function typedValueAsWritten(value: FitsValue): string {
  if (value === null) return "";
  if (typeof value === "boolean") return value ? "T" : "F";
  if (typeof value === "number") return JSON.stringify(value);
  return value.trim();
}

/** `json.dumps(dict)` with Python's defaults: ", " and ": " separators, everything beyond ASCII as \uXXXX. */
function pythonJsonObject(values: ReadonlyMap<string, string>): string {
  const members: string[] = [];
  for (const [key, value] of values) members.push(`${pythonJsonString(key)}: ${pythonJsonString(value)}`);
  return `{${members.join(", ")}}`;
}

const PLAIN = /^[ !#-[\]-~]*$/;
const BEYOND_ASCII = /[\u007f-\uffff]/g;

function pythonJsonString(text: string): string {
  if (PLAIN.test(text)) return `"${text}"`;
  return JSON.stringify(text).replace(BEYOND_ASCII, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
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
