import { InvalidInputError } from "../platform/errors";

/**
 * Object keys and file names: `{directory}/{site}-{instrument}-{YYYYMMDD}-{NNNNNNNN}-{TYPE}{RR}.{ext}[.{more}]`, the
 * replaced service's rule with letter case free, narrowed to characters that are always a safe S3 key (letters, digits,
 * `_` in the instrument, `-` and `.` only as separators, so never `/`, `\`, `..` or a control character). What the
 * archive does with a file is keyed on its lower-cased extension: txt, jpg and fits (plain, .bz2, .fz, .gz) are read;
 * any other is stored and announced only. One precompiled pattern serves the happy path; only a rejected name goes
 * through the slower diagnosis that says which part is wrong.
 */

/** The directories the ingestion pipelines read. */
export type ArchiveDirectory = "data" | "info-images" | "allsky";
/** Where an upload may go: the ingested directories, and test/ (stored only: no pipeline reads it). */
export type UploadDirectory = ArchiveDirectory | "test";
/** The kinds of file the archive reads. */
export type FileExtension = "txt" | "jpg" | "fits";
export type Compression = "bz2" | "fz" | "gz" | null;
export type FileFlagColumn = "fits_01_exists" | "fits_10_exists" | "jpg_medium_exists" | "jpg_small_exists";

export interface ArchiveFileName {
  /** "sro-kb001ms-20220629-00010442-EX10.fits.bz2", as named (case kept) */
  fileName: string;
  /** "sro-kb001ms-20220629-00010442", as named */
  baseFilename: string;
  /** 3–6 letters or digits, as named (the replaced service never changed its case either) */
  site: string;
  instrument: string;
  /** YYYYMMDD, a real calendar date */
  date: string;
  /** exactly 8 digits */
  counter: string;
  /** "EX", "EP", "e", … */
  dataType: string;
  /** exactly 2 digits */
  reduction: string;
  /** What the archive reads the file as, by its lower-cased extension; null for any other extension (.png, .csv…). */
  extension: FileExtension | null;
  compression: Compression;
}

export interface ArchiveObjectKey extends ArchiveFileName {
  directory: ArchiveDirectory;
  key: string;
}

/** A file the archive reads: what the ingestion pipelines are given. */
export type KnownObjectKey = ArchiveObjectKey & { extension: FileExtension };

/** Where a requested upload is stored. */
export interface UploadObjectKey extends ArchiveFileName {
  directory: UploadDirectory;
  key: string;
}

export interface SiblingChange {
  reduction?: string;
  extension?: FileExtension;
  compression?: Compression;
}

export const ARCHIVE_DIRECTORIES: readonly ArchiveDirectory[] = ["data", "info-images", "allsky"];
export const UPLOAD_DIRECTORIES: readonly UploadDirectory[] = [...ARCHIVE_DIRECTORIES, "test"];
export const MAX_FILE_NAME_LENGTH = 128;

/** A site code: the first part of every file name, and the site of every token, route and table item. */
const SITE_SOURCE = "[A-Za-z0-9]{3,6}";
const INSTRUMENT_SOURCE = "[A-Za-z0-9_]+";
const BASE_SOURCE = `(${SITE_SOURCE})-(${INSTRUMENT_SOURCE})-(\\d{8})-(\\d{8})`;
/** The extension as named: letters, then any number of `.{letters or digits}` parts (no empty part, so never ".."). */
const EXTENSION_SOURCE = "[A-Za-z]+(?:\\.[A-Za-z0-9]+)*";
// The extensions the archive reads (KNOWN_EXTENSIONS), written in lower case, have their own captures: the common
// names need no lookup, which keeps the parser as fast as it was before it accepted other extensions and cases.
const FILE_NAME = new RegExp(
  `^(${BASE_SOURCE})-([A-Za-z]+)(\\d{2})\\.(?:(txt|jpg)|(fits)(?:\\.(bz2|fz|gz))?|(${EXTENSION_SOURCE}))$`,
);
const BASE_FILENAME = new RegExp(`^${BASE_SOURCE}$`);
export const SITE_PATTERN = new RegExp(`^${SITE_SOURCE}$`);
const SITE = SITE_PATTERN;
const INSTRUMENT = new RegExp(`^${INSTRUMENT_SOURCE}$`);
const EXTENSION = new RegExp(`^${EXTENSION_SOURCE}$`);
const EIGHT_DIGITS = /^\d{8}$/;
const TWO_DIGITS = /^\d{2}$/;
const SHAPE = "{site}-{instrument}-{YYYYMMDD}-{NNNNNNNN}-{TYPE}{RR}.{extension}";

/** The extensions the archive reads, lower-cased, as [kind, compression] (FILE_NAME's captures name the same ones). */
const KNOWN_EXTENSIONS: ReadonlyMap<string, readonly [FileExtension, Compression]> = new Map([
  ["txt", ["txt", null]],
  ["jpg", ["jpg", null]],
  ["fits", ["fits", null]],
  ["fits.bz2", ["fits", "bz2"]],
  ["fits.fz", ["fits", "fz"]],
  ["fits.gz", ["fits", "gz"]],
] as const);
const OTHER_EXTENSION = [null, null] as const;

/** Which `images` column a file sets, by extension and reduction; anything not listed sets none. */
const FLAG_COLUMNS: Readonly<Record<string, FileFlagColumn>> = {
  jpg10: "jpg_medium_exists",
  jpg13: "jpg_medium_exists",
  jpg11: "jpg_small_exists",
  fits00: "fits_01_exists",
  fits01: "fits_01_exists",
  fits10: "fits_10_exists",
  fits13: "fits_10_exists",
};

/** Parses and validates a bare file name (no directory); throws InvalidInputError naming the wrong part. */
export function parseFileName(name: string): ArchiveFileName {
  return matchFileName(name, "file name", name);
}

/** Parses an already-decoded object key such as "data/sro-kb001ms-20220629-00010442-EX10.jpg". */
export function parseObjectKey(key: string): ArchiveObjectKey {
  const slash = typeof key === "string" ? key.indexOf("/") : -1;
  const directory = slash > 0 ? key.slice(0, slash) : "";
  if (!isArchiveDirectory(directory)) {
    throw new InvalidInputError(
      `invalid object key ${quote(key)}: directory must be one of ${ARCHIVE_DIRECTORIES.join(", ")}`,
      "directory",
    );
  }
  return { ...matchFileName(key.slice(slash + 1), "object key", key), directory, key };
}

/** The key an upload of `name` into `directory` is stored under; the name is checked as parseFileName checks it. */
export function uploadObjectKey(directory: UploadDirectory, name: string): UploadObjectKey {
  if (!isUploadDirectory(directory)) {
    throw new InvalidInputError(`invalid directory ${quote(directory)}: must be one of ${UPLOAD_DIRECTORIES.join(", ")}`, "directory");
  }
  return { ...parseFileName(name), directory, key: `${directory}/${name}` };
}

/** Whether the archive reads the file (txt, jpg, fits); any other is stored and announced only. */
export function isKnownFile<T extends ArchiveFileName>(file: T): file is T & { extension: FileExtension } {
  return file.extension !== null;
}

function matchFileName(name: string, kind: "file name" | "object key", input: string): ArchiveFileName {
  const match = typeof name === "string" && name.length <= MAX_FILE_NAME_LENGTH ? FILE_NAME.exec(name) : null;
  if (match === null || !isCalendarDate(match[4] as string)) {
    throw diagnose(name, kind, input);
  }
  const other = match[11] === undefined ? undefined : extensionKind(match[11]);
  return {
    fileName: name,
    baseFilename: match[1] as string,
    site: match[2] as string,
    instrument: match[3] as string,
    date: match[4] as string,
    counter: match[5] as string,
    dataType: match[6] as string,
    reduction: match[7] as string,
    extension: other ? other[0] : ((match[8] ?? "fits") as FileExtension),
    compression: other ? other[1] : ((match[10] ?? null) as Compression),
  };
}

/** The kind an extension not written in lower case, or not one the archive reads, is read as. */
function extensionKind(named: string): readonly [FileExtension, Compression] | readonly [null, null] {
  return KNOWN_EXTENSIONS.get(named.toLowerCase()) ?? OTHER_EXTENSION;
}

/** The one place S3 event keys are URL-decoded ('+' is a space, then percent-decoding). */
export function decodeS3EventKey(raw: string): string {
  const spaced = raw.replace(/\+/g, " ");
  try {
    return decodeURIComponent(spaced);
  } catch (error) {
    if (!(error instanceof URIError)) throw error;
    throw new InvalidInputError(`invalid object key ${quote(raw)}: malformed percent-encoding`, "key");
  }
}

/** Validates a base filename "{site}-{instrument}-{YYYYMMDD}-{NNNNNNNN}" and returns its parts. */
export function parseBaseFilename(
  baseFilename: string,
): Pick<ArchiveFileName, "baseFilename" | "site" | "instrument" | "date" | "counter"> {
  const match = typeof baseFilename === "string" ? BASE_FILENAME.exec(baseFilename) : null;
  if (match === null || !isCalendarDate(match[3] as string)) {
    throw new InvalidInputError(
      `invalid base filename ${quote(baseFilename)}: expected {site}-{instrument}-{YYYYMMDD}-{NNNNNNNN} with a calendar date`,
      "base_filename",
    );
  }
  return {
    baseFilename,
    site: match[1] as string,
    instrument: match[2] as string,
    date: match[3] as string,
    counter: match[4] as string,
  };
}

/** The `images` column a file's arrival sets, or null (txt headers, other reductions and other extensions set none). */
export function fileFlagColumn(file: Pick<ArchiveFileName, "extension" | "reduction">): FileFlagColumn | null {
  return file.extension === null ? null : (FLAG_COLUMNS[file.extension + file.reduction] ?? null);
}

/** A medium jpg (reduction 10 or 13): the one a thumbnail is made from. */
export function isMediumJpg(file: Pick<ArchiveFileName, "extension" | "reduction">): boolean {
  return fileFlagColumn(file) === "jpg_medium_exists";
}

/** A thumbnail jpg (reduction 11). */
export function isThumbnail(file: Pick<ArchiveFileName, "extension" | "reduction">): boolean {
  return fileFlagColumn(file) === "jpg_small_exists";
}

/**
 * The key of another file of the same exposure, always with a lower-case extension. A compression carries over only
 * while the extension stays the same, so `{extension: "jpg"}` from a .fits.bz2 gives a plain .jpg.
 */
export function siblingKey(key: ArchiveObjectKey, change: SiblingChange): string {
  const reduction = change.reduction ?? key.reduction;
  const extension = change.extension ?? key.extension;
  if (extension === null) {
    throw new InvalidInputError(`invalid sibling of ${quote(key.key)}: name the extension of a file the archive reads`, "extension");
  }
  const compression =
    change.compression !== undefined ? change.compression : extension === key.extension ? key.compression : null;
  if (!TWO_DIGITS.test(reduction)) {
    throw new InvalidInputError(`invalid sibling of ${quote(key.key)}: reduction ${quote(reduction)} is not 2 digits`, "reduction");
  }
  if (compression !== null && extension !== "fits") {
    throw new InvalidInputError(
      `invalid sibling of ${quote(key.key)}: only fits files are compressed, not ${extension}.${compression}`,
      "extension",
    );
  }
  const suffix = compression === null ? extension : `${extension}.${compression}`;
  return `${objectKeyPrefix(key.directory, key.baseFilename)}${key.dataType}${reduction}.${suffix}`;
}

/** The thumbnail of an exposure: same base and data type, reduction 11, `.jpg` (lower case, whatever the source's). */
export function thumbnailKey(key: ArchiveObjectKey): string {
  return siblingKey(key, { reduction: "11", extension: "jpg", compression: null });
}

/** "{directory}/{base}-": every object of one exposure and nothing else (the trailing dash stops 0001 matching 00010). */
export function objectKeyPrefix(directory: ArchiveDirectory, baseFilename: string): string {
  if (!isArchiveDirectory(directory)) {
    throw new InvalidInputError(`invalid directory ${quote(directory)}`, "directory");
  }
  parseBaseFilename(baseFilename);
  return `${directory}/${baseFilename}-`;
}

/** A site code as a route or request gives it; bad input naming the field otherwise. */
export function assertSiteName(site: string, field = "site"): string {
  if (!SITE_PATTERN.test(site)) {
    throw new InvalidInputError(`${field} must be 3-6 letters or digits, got ${quote(site)}`, field);
  }
  return site;
}

export function isArchiveDirectory(value: string): value is ArchiveDirectory {
  return value === "data" || value === "info-images" || value === "allsky";
}

export function isUploadDirectory(value: string): value is UploadDirectory {
  return isArchiveDirectory(value) || value === "test";
}

/** YYYYMMDD is a Gregorian calendar date (years 0001–9999), checked on char codes without allocating a Date. */
export function isCalendarDate(date: string): boolean {
  if (date.length !== 8) return false;
  let year = 0;
  for (let i = 0; i < 4; i++) year = year * 10 + digitAt(date, i);
  const month = digitAt(date, 4) * 10 + digitAt(date, 5);
  const day = digitAt(date, 6) * 10 + digitAt(date, 7);
  if (Number.isNaN(year + month + day) || year < 1 || month < 1 || month > 12 || day < 1) return false;
  return day <= daysInMonth(year, month);
}

function digitAt(text: string, index: number): number {
  const code = text.charCodeAt(index) - 48;
  return code >= 0 && code <= 9 ? code : Number.NaN;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

function quote(value: unknown): string {
  return JSON.stringify(typeof value === "string" ? value : String(value));
}

/** The slow path: find the first wrong part of a name the pattern rejected. */
function diagnose(name: unknown, kind: "file name" | "object key", input: string): InvalidInputError {
  const label = `invalid ${kind} ${quote(input)}`;
  const fail = (reason: string, field: string) => new InvalidInputError(`${label}: ${reason}`, field);
  if (typeof name !== "string" || name.length === 0) return fail("the file name is empty", "file_name");
  if (name.length > MAX_FILE_NAME_LENGTH) {
    return fail(`the file name is ${name.length} characters, over the ${MAX_FILE_NAME_LENGTH} allowed`, "file_name");
  }
  if (/[^\x20-\x7e]/.test(name)) return fail("the file name holds non-ASCII or control characters", "file_name");
  if (name.includes("/") || name.includes("\\")) return fail("the file name holds a path separator", "file_name");
  if (name.includes("..")) return fail('the file name holds ".."', "file_name");

  const dot = name.indexOf(".");
  const stem = dot < 0 ? name : name.slice(0, dot);
  const parts = stem.split("-");
  if (parts.length !== 5) return fail(`expected ${SHAPE}`, "file_name");
  const [site, instrument, date, counter, typeAndReduction] = parts as [string, string, string, string, string];
  if (!SITE.test(site)) return fail(`site ${quote(site)} is not 3–6 letters or digits`, "site");
  if (!INSTRUMENT.test(instrument)) {
    return fail(`instrument ${quote(instrument)} is not letters, digits or _`, "instrument");
  }
  if (!EIGHT_DIGITS.test(date)) return fail(`date ${quote(date)} is not YYYYMMDD`, "date");
  if (!isCalendarDate(date)) return fail(`date ${date} is not a calendar date`, "date");
  if (!EIGHT_DIGITS.test(counter)) return fail(`counter ${quote(counter)} is not exactly 8 digits`, "counter");
  const typeMatch = /^([A-Za-z]*)(.*)$/.exec(typeAndReduction);
  const dataType = typeMatch?.[1] ?? "";
  const reduction = typeMatch?.[2] ?? typeAndReduction;
  if (dataType.length === 0) return fail(`data type ${quote(dataType)} is not letters`, "data_type");
  if (!TWO_DIGITS.test(reduction)) return fail(`reduction ${quote(reduction)} is not exactly 2 digits`, "reduction");
  const extension = dot < 0 ? "" : name.slice(dot + 1);
  if (!EXTENSION.test(extension)) {
    return fail(`extension ${quote(extension)} is not letters, then .{letters or digits} parts`, "extension");
  }
  return fail(`expected ${SHAPE}`, "file_name");
}
