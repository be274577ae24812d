import type { FitsHeader, FitsValue } from "../fits/header";
import { headerAsWritten, headerFromObject, headerToJson } from "../fits/headerJson";
import type { ImageHeaderFields } from "./imagesTable";

/**
 * The `images` columns a header provides. One mapping serves both input forms: a parsed FITS header
 * (`imageFieldsFromHeader`) and a header sent as a JSON object with an upload request (`imageFieldsFromJson`).
 * A missing or unparsable value becomes null; nothing here throws, so a header without coordinates is still a record.
 *
 * Coordinates, in degrees (the unit the shared table holds, CONTRACTS.md), in order of preference:
 * - right_ascension: CRVAL1 (degrees by FITS WCS, used unless CTYPE1 names a non-RA axis); RAHRS (hours) × 15;
 *   RA — a number is hours as PTR sites write it (× 15), except that a value above 24 can only be degrees, and a
 *   string is sexagesimal hours; OBJCTRA sexagesimal hours ("HH MM SS.s" or "HH:MM:SS") × 15.
 * - declination: CRVAL2 (unless CTYPE2 names a non-Dec axis); DEC (number, or sexagesimal string);
 *   OBJCTDEC sexagesimal with sign ("-00 30 00" is negative).
 * capture_date and sort_date are DATE-OBS, or null (the store then keeps the row's date, or the arrival time).
 * `header` is every value as written in its card (the old read API's form), `header_json` the typed header.
 */

export function imageFieldsFromHeader(header: FitsHeader): ImageHeaderFields {
  const cards = header.cards;
  const captured = captureDate(cards);
  return {
    right_ascension: rightAscensionDegrees(cards),
    declination: declinationDegrees(cards),
    altitude: numberOf(cards.ALTITUDE),
    azimuth: numberOf(cards.AZIMUTH),
    filter_used: textOf(cards.FILTER),
    airmass: numberOf(cards.AIRMASS),
    exposure_time: numberOf(cards.EXPTIME) ?? numberOf(cards.EXPOSURE),
    user_id: textOf(cards.USERID),
    username: textOf(cards.USERNAME),
    capture_date: captured,
    sort_date: captured === null ? null : new Date(captured.getTime()),
    header: headerAsWritten(header),
    header_json: headerToJson(header),
  };
}

/** The same fields from a header given as a JSON object (POST /upload "header"). */
export function imageFieldsFromJson(object: Record<string, unknown>): ImageHeaderFields {
  return imageFieldsFromHeader(headerFromObject(object));
}

type Cards = Readonly<Record<string, FitsValue>>;

function rightAscensionDegrees(cards: Cards): number | null {
  const crval1 = numberOf(cards.CRVAL1);
  if (crval1 !== null && axisIs(cards.CTYPE1, "RA")) return inCircle(crval1);
  const rahrs = numberOf(cards.RAHRS);
  if (rahrs !== null) return fromHours(rahrs);
  const ra = cards.RA;
  if (typeof ra === "number") return ra > 24 ? inCircle(ra) : fromHours(ra);
  if (typeof ra === "string") {
    const hours = sexagesimal(ra);
    if (hours !== null) return fromHours(hours);
  }
  const objectRa = typeof cards.OBJCTRA === "string" ? sexagesimal(cards.OBJCTRA) : null;
  return objectRa === null ? null : fromHours(objectRa);
}

function declinationDegrees(cards: Cards): number | null {
  const crval2 = numberOf(cards.CRVAL2);
  if (crval2 !== null && axisIs(cards.CTYPE2, "DEC")) return inDegrees(crval2);
  const dec = cards.DEC;
  if (typeof dec === "number") return inDegrees(dec);
  if (typeof dec === "string") {
    const degrees = sexagesimal(dec);
    if (degrees !== null) return inDegrees(degrees);
  }
  const objectDec = typeof cards.OBJCTDEC === "string" ? sexagesimal(cards.OBJCTDEC) : null;
  return objectDec === null ? null : inDegrees(objectDec);
}

/** A WCS axis type such as "RA---TAN" names the axis before its dashes; no CTYPE means the common case. */
function axisIs(ctype: FitsValue | undefined, axis: "RA" | "DEC"): boolean {
  if (typeof ctype !== "string" || ctype.trim() === "") return true;
  return ctype.trim().toUpperCase().split("-")[0] === axis;
}

function fromHours(hours: number): number | null {
  return hours >= 0 && hours <= 24 ? hours * 15 : null;
}

function inCircle(degrees: number): number | null {
  return degrees >= 0 && degrees <= 360 ? degrees : null;
}

function inDegrees(degrees: number): number | null {
  return degrees >= -90 && degrees <= 90 ? degrees : null;
}

/** "HH MM SS.s", "HH:MM:SS", "-DD MM SS" or a plain decimal; the sign applies to the whole value. */
export function sexagesimal(text: string): number | null {
  const trimmed = text.trim();
  const negative = trimmed.startsWith("-");
  const unsigned = trimmed.replace(/^[+-]/, "");
  const parts = unsigned.split(/[\s:]+/);
  if (unsigned === "" || parts.length > 3) return null;
  const numbers = parts.map((part) => (/^\d+(\.\d*)?$|^\.\d+$/.test(part) ? Number(part) : Number.NaN));
  const [whole = 0, minutes = 0, seconds = 0] = numbers;
  if (numbers.some(Number.isNaN) || minutes >= 60 || seconds >= 60) return null;
  const value = whole + minutes / 60 + seconds / 3600;
  return negative ? -value : value;
}

function numberOf(value: FitsValue | undefined): number | null {
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (typeof value === "string" && /^\s*[+-]?(\d+\.?\d*|\.\d+)([eEdD][+-]?\d+)?\s*$/.test(value)) {
    return Number(value.trim().replace(/[dD]/, "e"));
  }
  return null;
}

function textOf(value: FitsValue | undefined): string | null {
  if (typeof value === "number") return String(value);
  if (typeof value !== "string") return null;
  const trimmed = value.trim();
  return trimmed === "" ? null : trimmed;
}

const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/;

/** DATE-OBS in UTC ('YYYY-MM-DDTHH:MM:SS.sss', with or without Z, or a date with TIME-OBS / UTSTART, or a date). */
function captureDate(cards: Cards): Date | null {
  const dateObs = textOf(cards["DATE-OBS"]);
  if (dateObs === null) return null;
  const time = textOf(cards["TIME-OBS"]) ?? textOf(cards.UTSTART);
  const withTime = !dateObs.includes("T") && time !== null && /^\d{4}-\d{2}-\d{2}$/.test(dateObs)
    ? `${dateObs}T${time}`
    : dateObs;
  return parseUtc(withTime) ?? parseUtc(dateObs);
}

/** An ISO 8601 date or date-time, read as UTC unless it carries an offset; null unless every field is in range. */
export function parseUtc(text: string): Date | null {
  const match = DATE_TIME.exec(text.trim());
  if (match === null) return null;
  const [, year, month, day, hour = "0", minute = "0", second = "0", fraction = "", zone] = match;
  const parts = [year, month, day, hour, minute, second].map(Number) as [number, number, number, number, number, number];
  const [y, mo, d, h, mi, s] = parts;
  const milliseconds = fraction === "" ? 0 : Math.round(Number(`0.${fraction}`) * 1000);
  const utc = Date.UTC(y, mo - 1, d, h, mi, s, milliseconds);
  const check = new Date(Date.UTC(y, mo - 1, d));
  if (check.getUTCFullYear() !== y || check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d) return null;
  if (h > 23 || mi > 59 || s > 60) return null;
  return new Date(utc - offsetMinutes(zone) * 60_000);
}

function offsetMinutes(zone: string | undefined): number {
  if (zone === undefined || zone === "Z") return 0;
  const digits = zone.replace(":", "");
  const minutes = Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5));
  return digits.startsWith("-") ? -minutes : minutes;
}
