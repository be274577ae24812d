import {
  CompiledQuery,
  DummyDriver,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  sql,
  type ExpressionBuilder,
  type OnConflictDatabase,
  type OnConflictTables,
} from "kysely";
import pg from "pg";
import { InvalidInputError } from "../platform/errors";
import { fileFlagColumn, type ArchiveFileName, type FileFlagColumn } from "../names/fileName";
import {
  FILE_FLAG_COLUMNS,
  HEADER_COLUMNS,
  IDENTITY_COLUMNS,
  IMAGE_COLUMNS,
  type Database,
  type ImageHeaderFields,
  type ImageRow,
} from "./imagesTable";

/**
 * The `images` table: one row per base filename. Every write is one INSERT … ON CONFLICT statement, so events for an
 * exposure may arrive in any order, any number of times, from any number of connections, and end in the same row:
 * a header never clears a file flag, a file never erases header fields, and site and data_type come from the name.
 */

// Building and compiling a write costs ~70 µs, a large share of one event; the writes are compiled once, with a
// compile-only Kysely, from the column lists, and run with each event's parameters in the same column order.
const compiler = new Kysely<Database>({
  dialect: {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (db) => new PostgresIntrospector(db),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  },
});

type Identity = Pick<ArchiveFileName, "baseFilename" | "site" | "dataType">;

const identityParameters = (file: Identity): unknown[] => [file.baseFilename, file.site, file.dataType];
const headerParameters = (file: Identity, fields: ImageHeaderFields): unknown[] => [
  ...identityParameters(file),
  ...HEADER_COLUMNS.map((column) => fields[column]),
];

/** Placeholder values for compiling: one per listed column, in list order (kysely binds values in key order). */
const placeholders = (columns: readonly string[], extra: Record<string, unknown> = {}) =>
  ({ ...Object.fromEntries(columns.map((column) => [column, null])), ...extra }) as never;

type Excluded = ExpressionBuilder<OnConflictDatabase<Database, "images">, OnConflictTables<"images">>;
/** site and data_type come from the name: the first writer's stay. */
const keepIdentity = (eb: Excluded) => ({
  site: eb.fn.coalesce("images.site", "excluded.site"),
  data_type: eb.fn.coalesce("images.data_type", "excluded.data_type"),
});

const upsertHeader = compiler
  .insertInto("images")
  .values(placeholders([...IDENTITY_COLUMNS, ...HEADER_COLUMNS]))
  .onConflict((conflict) =>
    conflict.column("base_filename").doUpdateSet((eb) => ({
      ...keepIdentity(eb),
      ...Object.fromEntries(HEADER_COLUMNS.map((column) => [column, eb.ref(`excluded.${column}`)])),
    })),
  )
  .compile().sql;

const ensureRow = compiler
  .insertInto("images")
  .values(placeholders(IDENTITY_COLUMNS))
  .onConflict((conflict) => conflict.column("base_filename").doNothing())
  .compile().sql;

function upsertFlagStatement(flag: FileFlagColumn): string {
  return compiler
    .insertInto("images")
    .values(placeholders(IDENTITY_COLUMNS, { [flag]: true }))
    .onConflict((conflict) =>
      conflict.column("base_filename").doUpdateSet((eb) => ({ ...keepIdentity(eb), [flag]: sql<boolean>`true` })),
    )
    .compile().sql;
}

// A medium jpg also records its reduction; when both 10 and 13 arrive, 10 (the usual name) is the one linked.
const upsertMediumJpg = compiler
  .insertInto("images")
  .values(placeholders(IDENTITY_COLUMNS, { jpg_medium_exists: true, jpg_medium_reduction: "" }))
  .onConflict((conflict) =>
    conflict.column("base_filename").doUpdateSet((eb) => ({
      ...keepIdentity(eb),
      jpg_medium_exists: sql<boolean>`true`,
      jpg_medium_reduction: sql<string>`least(images.jpg_medium_reduction, excluded.jpg_medium_reduction)`,
    })),
  )
  .compile().sql;

const upsertFlag = Object.fromEntries(FILE_FLAG_COLUMNS.map((flag) => [flag, upsertFlagStatement(flag)])) as Readonly<
  Record<FileFlagColumn, string>
>;

/** Stores a header's fields, overwriting earlier header fields; file flags are left as they are. */
export async function recordHeader(db: Kysely<Database>, file: ArchiveFileName, fields: ImageHeaderFields): Promise<void> {
  await db.executeQuery(CompiledQuery.raw(upsertHeader, headerParameters(file, fields)));
}

/** Records that a file of the exposure exists (its flag column set); a file that sets no flag only ensures the row. */
export async function recordFile(
  db: Kysely<Database>,
  file: Pick<ArchiveFileName, "baseFilename" | "site" | "dataType" | "extension" | "reduction">,
): Promise<void> {
  const flag = fileFlagColumn(file);
  const [statement, parameters] =
    flag === null
      ? [ensureRow, identityParameters(file)]
      : flag === "jpg_medium_exists"
        ? [upsertMediumJpg, [...identityParameters(file), true, file.reduction]]
        : [upsertFlag[flag], [...identityParameters(file), true]];
  await db.executeQuery(CompiledQuery.raw(statement, parameters));
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

/** A site's newest exposures that have a medium jpg to show, newest sort_date first (undated ones last). */
export async function latestImages(db: Kysely<Database>, site: string, limit: number): Promise<ImageRow[]> {
  return db
    .selectFrom("images")
    .select(IMAGE_COLUMNS)
    .where("site", "=", site)
    .where("jpg_medium_exists", "=", true)
    .orderBy(sql`sort_date DESC NULLS LAST`)
    .orderBy("image_id", "desc")
    .limit(limit)
    .execute();
}

export async function findImage(db: Kysely<Database>, baseFilename: string): Promise<ImageRow | undefined> {
  return db.selectFrom("images").select(IMAGE_COLUMNS).where("base_filename", "=", baseFilename).executeTakeFirst();
}

/** The exposure's header as the JSON string it was stored as; undefined when there is no row or no header yet. */
export async function findHeader(db: Kysely<Database>, baseFilename: string): Promise<string | undefined> {
  const row = await db
    .selectFrom("images")
    .select("header")
    .where("base_filename", "=", baseFilename)
    .executeTakeFirst();
  return row?.header ?? undefined;
}

const INVALID_JSONPATH = new Set(["42601", "22P02", "2203A", "22038"]);

/**
 * Exposures whose header matches a jsonpath predicate, e.g. `$.FILTER == "ha" && $.EXPTIME > 60`, newest first;
 * answered from the GIN index on header_json. A predicate Postgres cannot parse is an InvalidInputError.
 */
export async function imagesMatchingHeader(
  db: Kysely<Database>,
  predicate: string,
  limit: number,
): Promise<ImageRow[]> {
  try {
    return await db
      .selectFrom("images")
      .select(IMAGE_COLUMNS)
      .where(sql<boolean>`header_json @@ ${predicate}::jsonpath`)
      .orderBy(sql`sort_date DESC NULLS LAST`)
      .orderBy("image_id", "desc")
      .limit(limit)
      .execute();
  } catch (error) {
    if (error instanceof pg.DatabaseError && error.code !== undefined && INVALID_JSONPATH.has(error.code)) {
      throw new InvalidInputError(`not a header query: ${error.message}`, "query");
    }
    throw error;
  }
}
