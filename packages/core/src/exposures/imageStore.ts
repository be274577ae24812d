import {
  CompiledQuery,
  DummyDriver,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  sql,
  type Compilable,
  type ExpressionBuilder,
  type OnConflictDatabase,
  type OnConflictTables,
  type RawBuilder,
} from "kysely";
import { fileFlagColumn, type ArchiveFileName, type FileFlagColumn } from "../names/fileName";
import {
  FILE_FLAG_COLUMNS,
  HEADER_COLUMNS,
  type Database,
  type ImageHeaderFields,
} from "./imagesTable";

/**
 * The `images` table: one row per base filename. Every write is one INSERT … ON CONFLICT statement, so events for an
 * exposure may arrive in any order, any number of times, from any number of connections, and end in the same row:
 * a header never clears a file flag, a file never erases header fields, and site comes from the name. The rows are
 * those the old read API reads too (CONTRACTS.md): every insert sets all four file flags and both dates, a file's
 * write dates a row that has no header by the earliest arrival, DATE-OBS replaces that, and data_type is the last
 * writer's.
 */

// Building and compiling a write costs ~70 µs, a large share of one event; the writes are compiled once, with a
// compile-only Kysely, from the column lists, and run with each event's values bound to the named parameters.
const compiler = new Kysely<Database>({
  dialect: {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (db) => new PostgresIntrospector(db),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  },
});

type Identity = Pick<ArchiveFileName, "baseFilename" | "site" | "dataType">;
const IDENTITY_SLOTS = ["base_filename", "site", "data_type"] as const;
const HEADER_SLOTS = [...IDENTITY_SLOTS, ...HEADER_COLUMNS, "arrived_at"] as const;
const FILE_SLOTS = [...IDENTITY_SLOTS, "arrived_at", "reduction"] as const;
type Slot = (typeof HEADER_SLOTS)[number] | (typeof FILE_SLOTS)[number];

/** A statement compiled once, and the name of the value each of its parameters takes, in order. */
interface Write<S extends Slot> {
  readonly sql: string;
  readonly slots: readonly S[];
}

/** A named parameter: compiled as a placeholder whose value is its name, so the compiled order names every slot. */
const slot = (name: Slot): RawBuilder<unknown> => sql`${name}`;
const timestampSlot = (name: "capture_date" | "sort_date" | "arrived_at"): RawBuilder<Date> =>
  sql<Date>`cast(${name} as timestamp)`;

function compileWrite<S extends Slot>(names: readonly S[], query: Compilable): Write<S> {
  const compiled = query.compile();
  const known: ReadonlySet<unknown> = new Set(names);
  const slots = compiled.parameters.filter((name): name is S => known.has(name));
  if (slots.length !== compiled.parameters.length) throw new Error(`a write has a parameter outside ${names.join(", ")}`);
  return { sql: compiled.sql, slots };
}

async function run<S extends Slot>(db: Kysely<Database>, write: Write<S>, values: Readonly<Record<S, unknown>>): Promise<void> {
  await db.executeQuery(CompiledQuery.raw(write.sql, write.slots.map((name) => values[name])));
}

type Excluded = ExpressionBuilder<OnConflictDatabase<Database, "images">, OnConflictTables<"images">>;
const DATE_COLUMNS = ["capture_date", "sort_date"] as const;
type DateColumn = (typeof DATE_COLUMNS)[number];
const isDateColumn = (column: string): column is DateColumn => (DATE_COLUMNS as readonly string[]).includes(column);

const identityValues = { base_filename: slot("base_filename"), site: slot("site"), data_type: slot("data_type") };
/** The first writer's site stays (it comes from the name); data_type is the newest file's. */
const identityUpdates = (eb: Excluded) => ({
  site: eb.fn.coalesce("images.site", "excluded.site"),
  data_type: eb.ref("excluded.data_type"),
});
/** Every insert writes all four flags (production's columns are nullable without a default). */
const flagValues = (set: FileFlagColumn | null) =>
  Object.fromEntries(FILE_FLAG_COLUMNS.map((flag) => [flag, flag === set ? sql<boolean>`true` : sql<boolean>`false`]));
/** An update sets its own flag and leaves the others as they are, a NULL (the old service's) made false. */
const flagUpdates = (set: FileFlagColumn | null) =>
  Object.fromEntries(
    FILE_FLAG_COLUMNS.map((flag) => [flag, flag === set ? sql<boolean>`true` : sql<boolean>`coalesce(${sql.ref(`images.${flag}`)}, false)`]),
  );

// A header's DATE-OBS replaces the row's dates; without one the row keeps its dates, or gets the arrival time.
function upsertHeaderStatement(onlyWithoutHeader: boolean): Write<(typeof HEADER_SLOTS)[number]> {
  return compileWrite(
    HEADER_SLOTS,
    compiler
      .insertInto("images")
      .values({
        ...identityValues,
        ...Object.fromEntries(
          HEADER_COLUMNS.map((column) => [
            column,
            isDateColumn(column) ? sql`coalesce(${timestampSlot(column)}, ${timestampSlot("arrived_at")})` : slot(column),
          ]),
        ),
        ...flagValues(null),
      } as never)
      .onConflict((conflict) => {
        const update = conflict.column("base_filename").doUpdateSet((eb) => ({
          ...identityUpdates(eb),
          ...Object.fromEntries(
            HEADER_COLUMNS.map((column) => [
              column,
              isDateColumn(column)
                ? sql`coalesce(${timestampSlot(column)}, ${sql.ref(`images.${column}`)}, ${sql.ref(`excluded.${column}`)})`
                : eb.ref(`excluded.${column}`),
            ]),
          ),
          ...flagUpdates(null),
        }));
        return onlyWithoutHeader ? update.where("images.header", "is", null) : update;
      }),
  );
}

const upsertHeader = upsertHeaderStatement(false);
const insertHeaderIfAbsent = upsertHeaderStatement(true);

/**
 * A file dates a row without a header by the earliest arrival among its files (the same whatever order they are
 * processed in); once a header is stored, its DATE-OBS, or the date the row had, stays.
 */
const fileDateUpdates = Object.fromEntries(
  DATE_COLUMNS.map((column) => {
    const [current, arriving] = [sql.ref(`images.${column}`), sql.ref(`excluded.${column}`)];
    return [column, sql<Date>`CASE WHEN images.header IS NULL THEN least(${current}, ${arriving}) ELSE coalesce(${current}, ${arriving}) END`];
  }),
);

// A medium jpg also records its reduction; when both 10 and 13 arrive, 10 (the usual name) is the one linked.
function upsertFileStatement(flag: FileFlagColumn | null): Write<(typeof FILE_SLOTS)[number]> {
  const medium = flag === "jpg_medium_exists";
  return compileWrite(
    FILE_SLOTS,
    compiler
      .insertInto("images")
      .values({
        ...identityValues,
        ...Object.fromEntries(DATE_COLUMNS.map((column) => [column, timestampSlot("arrived_at")])),
        ...flagValues(flag),
        ...(medium ? { jpg_medium_reduction: slot("reduction") } : {}),
      } as never)
      .onConflict((conflict) =>
        conflict.column("base_filename").doUpdateSet((eb) => ({
          ...identityUpdates(eb),
          ...fileDateUpdates,
          ...flagUpdates(flag),
          ...(medium
            ? { jpg_medium_reduction: sql<string>`least(images.jpg_medium_reduction, excluded.jpg_medium_reduction)` }
            : {}),
        })),
      ),
  );
}

const upsertFile = new Map([null, ...FILE_FLAG_COLUMNS].map((flag) => [flag, upsertFileStatement(flag)]));

function identityOf(file: Identity): Record<"base_filename" | "site" | "data_type", string> {
  return { base_filename: file.baseFilename, site: file.site, data_type: file.dataType };
}

function headerValues(file: Identity, fields: ImageHeaderFields, arrivedAt: Date) {
  return { ...identityOf(file), ...fields, header_json: fields.header_json ?? null, arrived_at: arrivedAt };
}

/**
 * Runs several writes as one transaction: one commit, so one WAL flush, for all of them (the records of an SQS
 * batch). The writes must use the `db` they are given; anything they throw rolls them all back.
 */
export async function writeTogether<T>(db: Kysely<Database>, writes: (db: Kysely<Database>) => Promise<T>): Promise<T> {
  return db.transaction().execute(writes);
}

/**
 * Stores a header's fields, overwriting earlier header fields; file flags are left as they are. `arrivedAt` (the
 * file's arrival, or the upload request's time) dates a new row whose header has no DATE-OBS; it defaults to now, as
 * the replaced service's insert time did.
 */
export async function recordHeader(
  db: Kysely<Database>,
  file: Identity,
  fields: ImageHeaderFields,
  arrivedAt: Date = new Date(),
): Promise<void> {
  await run(db, upsertHeader, headerValues(file, fields, arrivedAt));
}

/**
 * Stores a header's fields only when the row has no header yet (a FITS file's own header, which never replaces the
 * one its .txt brought, whichever came first): the check is the statement's, so no race between reading and writing.
 */
export async function recordHeaderIfAbsent(
  db: Kysely<Database>,
  file: Identity,
  fields: ImageHeaderFields,
  arrivedAt: Date,
): Promise<void> {
  await run(db, insertHeaderIfAbsent, headerValues(file, fields, arrivedAt));
}

/**
 * Records that a file of the exposure exists (its flag column set; a file that sets no flag still makes it the newest
 * file and dates a new row). `arrivedAt` is the file's arrival (the S3 event time); it defaults to now.
 */
export async function recordFile(
  db: Kysely<Database>,
  file: Pick<ArchiveFileName, "baseFilename" | "site" | "dataType" | "extension" | "reduction">,
  arrivedAt: Date = new Date(),
): Promise<void> {
  const write = upsertFile.get(fileFlagColumn(file));
  if (write === undefined) throw new Error(`no write compiled for ${file.baseFilename}'s flag`);
  await run(db, write, { ...identityOf(file), arrived_at: arrivedAt, reduction: file.reduction });
}

/** Deletes an exposure's row; true when there was one. */
export async function removeImage(db: Kysely<Database>, baseFilename: string): Promise<boolean> {
  const result = await db.deleteFrom("images").where("base_filename", "=", baseFilename).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/** Whether the exposure's header has been stored (from its txt or a fits file). */
export async function hasHeader(db: Kysely<Database>, baseFilename: string): Promise<boolean> {
  const row = await db
    .selectFrom("images")
    .select("image_id")
    .where("base_filename", "=", baseFilename)
    .where("header", "is not", null)
    .executeTakeFirst();
  return row !== undefined;
}

/** What an exposure's row says has arrived: its header and the files with a flag. */
export interface ExposureFiles {
  hasHeader: boolean;
  fits01: boolean;
  fits10: boolean;
  mediumJpg: boolean;
}

/** The exposure's arrived files from its row, in one read; undefined when it has no row. */
export async function exposureFiles(db: Kysely<Database>, baseFilename: string): Promise<ExposureFiles | undefined> {
  const row = await db
    .selectFrom("images")
    .select([
      sql<boolean>`header IS NOT NULL`.as("has_header"),
      sql<boolean>`coalesce(fits_01_exists, false)`.as("fits_01"),
      sql<boolean>`coalesce(fits_10_exists, false)`.as("fits_10"),
      sql<boolean>`coalesce(jpg_medium_exists, false)`.as("medium_jpg"),
    ])
    .where("base_filename", "=", baseFilename)
    .executeTakeFirst();
  return row && { hasHeader: row.has_header, fits01: row.fits_01, fits10: row.fits_10, mediumJpg: row.medium_jpg };
}
