import { CARD_LENGTH, type FitsHeader, type FitsValue } from "./header";

/**
 * Header text → FitsHeader. Parsing never throws on a malformed card: it keeps what it could read and lists the
 * problems. Decisions, documented once:
 * - HIERARCH cards are keyed as astropy names them, without the prefix: `HIERARCH ESO DET NAME = 'x'` → "ESO DET NAME".
 * - A repeated keyword keeps its first value (astropy's `header[key]`) and is noted in `problems`.
 * - Complex values `(re, im)` are kept as their text.
 */

const SPACE = 32;
const QUOTE = 39;
const SLASH = 47;
const EQUALS = 61;

/**
 * The text a header was parsed from, for what needs its values as written (the `images.header` column); undefined for
 * a header not made by parseHeaderText (sent as JSON, rebuilt from a .fz table, or any copy).
 */
export function cardTextOf(header: FitsHeader): string | undefined {
  return (header as { [CARD_TEXT]?: string })[CARD_TEXT];
}

// A non-enumerable own property of the parsed object (a reference to the text, no copy): a copy or a header built from
// this one never carries it, equality and JSON never see it, and it costs the parse nothing measurable (a WeakMap: 10%).
const CARD_TEXT = Symbol("card text");

/** Parses header text: 80-character cards, with or without newlines between them, up to END. */
export function parseHeaderText(text: string | Uint8Array): FitsHeader {
  // scanned as bytes (typed-array reads are several times faster than charCodeAt); values are sliced from the text
  const source =
    typeof text === "string" ? text : Buffer.from(text.buffer, text.byteOffset, text.byteLength).toString("latin1");
  const latin1 = typeof text !== "string" || !BEYOND_LATIN1.test(text);
  const codes =
    typeof text === "string" ? stringCodes(text, latin1) : new Uint8Array(text.buffer, text.byteOffset, text.byteLength);
  const builder = new HeaderBuilder(source, codes, latin1);
  Object.defineProperty(builder.header, CARD_TEXT, { value: source });
  const length = codes.length;
  let newline = -1;
  let position = 0;
  let number = 0;
  while (position < length) {
    if (newline < position) {
      // String.indexOf is a memchr; TypedArray.indexOf walks element by element
      newline = source.indexOf("\n", position);
      if (newline < 0) newline = length;
    }
    let end = position + CARD_LENGTH;
    let next = end;
    if (newline <= end) {
      end = newline;
      next = newline + 1;
    }
    if (end > length) end = length;
    if (end > position && codes[end - 1] === 13) end--;
    const start = position;
    position = next;
    if (end === start) continue;
    number++;
    if (!builder.card(start, end, number)) return builder.header;
  }
  builder.header.problems.push("no END card: the header may be truncated");
  return builder.header;
}

/** Turns cards into typed values; one instance per header. */
class HeaderBuilder {
  // A null-prototype dictionary: no "__proto__" trap, and V8 stores 100+ keyed properties faster than in a plain {}.
  readonly header: FitsHeader = {
    cards: Object.create(null) as Record<string, FitsValue>,
    comments: [],
    history: [],
    problems: [],
  };
  /** The keyword whose string value a following CONTINUE card may extend. */
  private continuable: string | null = null;

  /**
   * A NUL byte is no FITS character and no Postgres text can hold one: a card with one is set aside as a problem, so
   * the header's other cards are kept and the object is never retried into the dead-letter queue for it. Looked for
   * once per header (a memchr), per card only when the header has one.
   */
  private readonly hasNul: boolean;

  /** The keyword table needs codes that are the text's characters, which `codes` of a non-latin1 string are not. */
  constructor(private readonly source: string, private readonly codes: Uint8Array, private readonly latin1: boolean) {
    this.hasNul = source.includes("\u0000");
  }

  /** Reads one card (source[start, end)); false once END is reached. */
  card(start: number, end: number, number: number): boolean {
    const { source, codes } = this;
    if (this.hasNul) {
      const nul = source.indexOf("\u0000", start);
      if (nul >= 0 && nul < end) {
        this.continuable = null;
        this.problem(number, source.slice(start, Math.min(start + 8, nul)).trim() || "?", "holds a NUL byte; the card is left out");
        return true;
      }
    }
    const slot = this.latin1 ? keywordSlot(source, codes, start, Math.min(start + 8, end)) : -1;
    const keyword = slot < 0 ? keywordText(source, codes, start, end) : slotKeywords[slot] ?? "";
    switch (slot < 0 ? keywordKind(keyword) : slotKinds[slot]) {
    case KEYWORD_BLANK:
      this.continuable = null;
      return true;
    case KEYWORD_END:
      return false;
    case KEYWORD_COMMENT:
      this.header.comments.push(commentaryText(source, codes, start, end));
      return true;
    case KEYWORD_HISTORY:
      this.header.history.push(commentaryText(source, codes, start, end));
      return true;
    case KEYWORD_CONTINUE:
      this.continueString(start + 8, end, number);
      return true;
    case KEYWORD_HIERARCH:
      this.hierarch(start + 8, end, number);
      return true;
    case KEYWORD_INVALID:
      this.continuable = null;
      this.problem(number, keyword, "keyword has characters other than A–Z, 0–9, '-' and '_'");
      return true;
    }
    this.continuable = null;
    if (codes[start + 8] !== EQUALS || (end > start + 9 && codes[start + 9] !== SPACE)) {
      this.problem(number, keyword, "no value indicator '= ' in columns 9–10");
      return true;
    }
    this.keep(keyword, start + 10, end, number);
    return true;
  }

  private keep(keyword: string, from: number, end: number, number: number): void {
    const value = parseValue(this.source, this.codes, from, end);
    if (value instanceof ValueProblem) {
      this.problem(number, keyword, value.reason);
      return;
    }
    if (this.header.cards[keyword] !== undefined) {
      this.problem(number, keyword, "repeated keyword; the first value is kept");
      return;
    }
    this.header.cards[keyword] = value;
    this.continuable = typeof value === "string" ? keyword : null;
  }

  private hierarch(from: number, end: number, number: number): void {
    this.continuable = null;
    const equals = this.source.indexOf("=", from);
    if (equals < 0 || equals >= end) {
      this.problem(number, "HIERARCH", "no '=' after the HIERARCH keyword");
      return;
    }
    const keyword = this.source.slice(from, equals).trim().split(/\s+/).join(" ");
    if (keyword.length === 0) {
      this.problem(number, "HIERARCH", "empty HIERARCH keyword");
      return;
    }
    this.keep(keyword, equals + 1, end, number);
  }

  private continueString(from: number, end: number, number: number): void {
    const keyword = this.continuable;
    const previous = keyword === null ? undefined : this.header.cards[keyword];
    if (keyword === null || typeof previous !== "string" || !previous.endsWith("&")) {
      this.problem(number, "CONTINUE", "no preceding string value ending in '&' to continue");
      return;
    }
    const value = parseValue(this.source, this.codes, from, end);
    if (typeof value !== "string") {
      this.problem(number, "CONTINUE", value instanceof ValueProblem ? value.reason : "value is not a string");
      return;
    }
    this.header.cards[keyword] = previous.slice(0, -1) + value;
  }

  private problem(number: number, keyword: string, reason: string): void {
    this.header.problems.push(`card ${number} (${keyword}): ${reason}`);
  }
}

/**
 * A string header's characters as the codes the parser scans; a character beyond latin1 (never valid FITS, and only
 * ever copied into the strings returned, which are sliced from the text) becomes 0xFF, which means nothing to FITS.
 */
function stringCodes(text: string, latin1: boolean): Uint8Array {
  if (latin1) {
    const buffer = Buffer.from(text, "latin1");
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  }
  const codes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) codes[i] = Math.min(text.charCodeAt(i), 0xff);
  return codes;
}

const BEYOND_LATIN1 = /[\u0100-\uffff]/;

const KEYWORD_VALUE = 1;
const KEYWORD_INVALID = 2;
const KEYWORD_END = 3;
const KEYWORD_COMMENT = 4;
const KEYWORD_HISTORY = 5;
const KEYWORD_CONTINUE = 6;
const KEYWORD_HIERARCH = 7;
const KEYWORD_BLANK = 8;

const SPECIAL_KEYWORDS: ReadonlyMap<string, number> = new Map([
  ["END", KEYWORD_END],
  ["COMMENT", KEYWORD_COMMENT],
  ["HISTORY", KEYWORD_HISTORY],
  ["CONTINUE", KEYWORD_CONTINUE],
  ["HIERARCH", KEYWORD_HIERARCH],
]);

/*
 * The keywords seen so far, shared by all headers: an open-addressed table (a power of two, kept at most half full)
 * keyed by the 8 keyword columns packed as two 32-bit numbers, so a card's keyword is found without making a string.
 * The reused string is one V8 has internalized, which its dictionary stores and lookups take on their fast path.
 */
const KEYWORD_SLOTS = 1024;
const slotKeywords: string[] = new Array<string>(KEYWORD_SLOTS).fill("");
/** KEYWORD_* of each slot; 0 = empty */
const slotKinds = new Uint8Array(KEYWORD_SLOTS);
const slotColumns1to4 = new Int32Array(KEYWORD_SLOTS);
const slotColumns5to8 = new Int32Array(KEYWORD_SLOTS);
let keywordsCached = 0;

/** The slot of the keyword in columns [start, end) (at most 8) of latin1 text, filled on first sight. */
function keywordSlot(source: string, codes: Uint8Array, start: number, end: number): number {
  let columns1to4 = 0;
  let columns5to8 = 0;
  for (let column = 0; column < 8; column++) {
    // a short card's missing columns are blanks, as the keyword's trailing ones are
    const c = start + column < end ? codes[start + column] ?? SPACE : SPACE;
    if (column < 4) columns1to4 = (columns1to4 << 8) | c;
    else columns5to8 = (columns5to8 << 8) | c;
  }
  const hash = Math.imul(columns1to4 ^ Math.imul(columns5to8, 0x9e3779b1), 0x85ebca6b) >>> 22;
  let slot = hash & (KEYWORD_SLOTS - 1);
  for (; slotKinds[slot] !== 0; slot = (slot + 1) & (KEYWORD_SLOTS - 1)) {
    if (slotColumns1to4[slot] === columns1to4 && slotColumns5to8[slot] === columns5to8) return slot;
  }
  if (keywordsCached >= KEYWORD_SLOTS / 2) {
    // an unusual stream of distinct keywords: start over rather than grow
    slotKinds.fill(0);
    slotKeywords.fill("");
    keywordsCached = 0;
    slot = hash & (KEYWORD_SLOTS - 1);
  }
  const keyword = keywordText(source, codes, start, end);
  slotKeywords[slot] = keyword;
  slotKinds[slot] = keywordKind(keyword);
  slotColumns1to4[slot] = columns1to4;
  slotColumns5to8[slot] = columns5to8;
  keywordsCached++;
  return slot;
}

function keywordKind(keyword: string): number {
  if (keyword === "") return KEYWORD_BLANK;
  return SPECIAL_KEYWORDS.get(keyword) ?? (isStandardKeyword(keyword) ? KEYWORD_VALUE : KEYWORD_INVALID);
}

/** The keyword of the card at start: columns 1–8 without trailing blanks. */
function keywordText(source: string, codes: Uint8Array, start: number, end: number): string {
  let last = Math.min(start + 8, end);
  while (last > start && codes[last - 1] === SPACE) last--;
  return source.slice(start, last);
}

class ValueProblem {
  constructor(readonly reason: string) {}
}

function commentaryText(source: string, codes: Uint8Array, start: number, end: number): string {
  let last = end;
  while (last > start + 8 && codes[last - 1] === SPACE) last--;
  return start + 8 < last ? source.slice(start + 8, last) : "";
}

function isStandardKeyword(keyword: string): boolean {
  for (let i = 0; i < keyword.length; i++) {
    const c = keyword.charCodeAt(i);
    const ok = (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 45 || c === 95;
    if (!ok) return false;
  }
  return true;
}

/** A fixed- or free-format value starting at `from`, ending at '/' (comment) or the card's end. */
function parseValue(source: string, codes: Uint8Array, from: number, end: number): FitsValue | ValueProblem {
  let i = from;
  while (i < end && codes[i] === SPACE) i++;
  if (i >= end) return null;
  const first = codes[i] ?? 0;
  if (first === SLASH) return null;
  if (first === QUOTE) return parseString(source, codes, i + 1, end);
  if ((first === 84 || first === 70) && blankToComment(codes, i + 1, end)) return first === 84;
  if ((first >= 48 && first <= 57) || first === 45 || first === 43 || first === 46) {
    const decimal = plainDecimal(codes, i, end);
    if (!Number.isNaN(decimal)) return decimal;
  }
  // the rare rest: exponents, long mantissas, complex numbers, malformed values
  let last = i;
  while (last < end && codes[last] !== SLASH) last++;
  while (last > i && codes[last - 1] === SPACE) last--;
  const shape = numberShape(codes, i, last);
  if (shape !== NOT_A_NUMBER) {
    const token = source.slice(i, last);
    const value = Number(shape === NUMBER_D_EXPONENT ? token.replace(/[dD]/, "e") : token);
    return Number.isFinite(value) ? value : new ValueProblem(`number ${token} is out of range`);
  }
  if (first === 40 && codes[last - 1] === 41) return source.slice(i, last);
  return new ValueProblem(`unparsable value ${JSON.stringify(source.slice(i, last))}`);
}

function parseString(source: string, codes: Uint8Array, from: number, end: number): string | ValueProblem {
  let text = "";
  let segment = from;
  for (;;) {
    const quote = source.indexOf("'", segment);
    if (quote < 0 || quote >= end) return new ValueProblem("string value has no closing quote");
    if (quote + 1 < end && codes[quote + 1] === QUOTE) {
      text += source.slice(segment, quote + 1);
      segment = quote + 2;
      continue;
    }
    let last = quote;
    if (text.length === 0) {
      while (last > segment && codes[last - 1] === SPACE) last--;
      return source.slice(segment, last);
    }
    return (text + source.slice(segment, quote)).trimEnd();
  }
}

/** True if codes[from, end) are blank up to a comment '/' or the end. */
function blankToComment(codes: Uint8Array, from: number, end: number): boolean {
  let i = from;
  while (i < end && codes[i] === SPACE) i++;
  return i === end || codes[i] === SLASH;
}

const EXACT_POWERS_OF_TEN = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/**
 * The common value, [sign] digits [. digits] then blanks up to '/' or the end, read in one pass; NaN for anything
 * else. Converted only when the digits fit in 2^53 and the scale is a power of ten up to 1e15: one correctly rounded
 * division (Clinger's fast path), so equal to Number().
 */
function plainDecimal(codes: Uint8Array, start: number, end: number): number {
  let i = start;
  let c = codes[i] ?? 0;
  const negative = c === 45;
  if (c === 43 || c === 45) c = codes[++i] ?? 0;
  let mantissa = 0;
  let digits = 0;
  let significant = 0;
  let scale = -1;
  for (; i < end; c = codes[++i] ?? 0) {
    if (c >= 48 && c <= 57) {
      mantissa = mantissa * 10 + (c - 48);
      digits++;
      if (mantissa !== 0) significant++;
      if (scale >= 0) scale++;
    } else if (c === 46 && scale < 0) {
      scale = 0;
    } else {
      break;
    }
  }
  if (digits === 0 || significant > 15 || scale > 15 || !blankToComment(codes, i, end)) return Number.NaN;
  const value = scale > 0 ? mantissa / (EXACT_POWERS_OF_TEN[scale] ?? 1) : mantissa;
  return negative ? -value : value;
}

const NOT_A_NUMBER = 0;
const NUMBER_INTEGER = 1;
const NUMBER_FLOAT = 2;
const NUMBER_D_EXPONENT = 3;

/** Classifies [sign] digits [. digits] [(E|D) [sign] digits] by a scan, so Number() never sees hex or "Infinity". */
function numberShape(codes: Uint8Array, start: number, end: number): number {
  let i = start;
  let c = codes[i];
  if (c === 43 || c === 45) c = codes[++i];
  let digits = 0;
  while (i < end && c !== undefined && c >= 48 && c <= 57) {
    digits++;
    c = codes[++i];
  }
  let shape = NUMBER_INTEGER;
  if (i < end && c === 46) {
    shape = NUMBER_FLOAT;
    c = codes[++i];
    while (i < end && c !== undefined && c >= 48 && c <= 57) {
      digits++;
      c = codes[++i];
    }
  }
  if (digits === 0) return NOT_A_NUMBER;
  if (i < end && (c === 69 || c === 101 || c === 68 || c === 100)) {
    shape = c === 68 || c === 100 ? NUMBER_D_EXPONENT : NUMBER_FLOAT;
    c = codes[++i];
    if (i < end && (c === 43 || c === 45)) c = codes[++i];
    let exponentDigits = 0;
    while (i < end && c !== undefined && c >= 48 && c <= 57) {
      exponentDigits++;
      c = codes[++i];
    }
    if (exponentDigits === 0) return NOT_A_NUMBER;
  }
  return i === end ? shape : NOT_A_NUMBER;
}
