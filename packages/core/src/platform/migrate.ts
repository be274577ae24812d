import { Migrator, sql, type Kysely, type Migration, type MigrationResultSet } from "kysely";
import { z } from "zod";
import * as legacyImages from "./migrations/2025_01_01_0000_legacy_images";
import * as uniqueBaseFilename from "./migrations/2025_01_02_0000_unique_base_filename";
import * as headerJson from "./migrations/2025_01_03_0000_header_json";
import * as jpgMediumReduction from "./migrations/2025_02_01_0000_jpg_medium_reduction";
import * as contractRows from "./migrations/2025_03_01_0000_contract_rows";
import * as readIndexes from "./migrations/2025_03_02_0000_read_indexes";
import * as exposureStatus from "./migrations/2026_11_30_0001_exposure_status";
import * as generatedPreviews from "./migrations/2026_11_30_0003_generated_previews";
import * as expiryPolicies from "./migrations/2026_11_30_0004_expiry_policies";
import { MigrationPaused, OnlineRun, type OnlineMigration, type OnlineOptions } from "./migrations/online";
import { ArchiveError } from "./errors";
import type { Logger } from "./logger";

/** Every migration, by the name kysely records; imported explicitly so bundles carry them (no directory reads). */
export const migrations: Readonly<Record<string, OnlineMigration>> = {
  "2025_01_01_0000_legacy_images": legacyImages,
  "2025_01_02_0000_unique_base_filename": uniqueBaseFilename,
  "2025_01_03_0000_header_json": headerJson,
  "2025_02_01_0000_jpg_medium_reduction": jpgMediumReduction,
  "2025_03_01_0000_contract_rows": contractRows,
  "2025_03_02_0000_read_indexes": readIndexes,
  "2026_11_30_0001_exposure_status": exposureStatus,
  "2026_11_30_0003_generated_previews": generatedPreviews,
  "2026_11_30_0004_expiry_policies": expiryPolicies,
};

export type MigrationName = keyof typeof migrations;

const names = Object.keys(migrations).sort();

/** The newest migration: what a deploy asks the database to reach. */
export const LATEST_MIGRATION = names.at(-1) ?? "";

/** A migration name as a deploy's custom resource names its target. */
export const migrationTargetSchema = z.string().refine((name) => names.includes(name), "not a known migration");

export class MigrationError extends ArchiveError {
  override readonly name = "MigrationError";
  constructor(
    message: string,
    readonly migration: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, "migration_failed", false, 500, options);
  }
}

export interface MigrateOptions {
  /** Migrate up to this one (never down: a target already applied is reached); the newest when absent. */
  target?: MigrationName;
  /** Epoch milliseconds: the run stops between batches and steps before it, and a later run continues. */
  deadline?: number;
  log?: Logger;
  /** kysely's history lives here, created when missing; must be the schema on the connections' search_path. */
  schema?: string;
  /** Lock timeouts, batch size: the defaults keep every reader's wait under a second. */
  online?: Partial<Omit<OnlineOptions, "deadline" | "log">>;
}

export interface MigrationOutcome {
  /** The migrations this run finished. */
  applied: string[];
  /** Whether the target is reached; false when the deadline came first or another run holds the database. */
  done: boolean;
  /** Lock requests that timed out behind other sessions and were made again. */
  lockRetries: number;
}

const RUN_LOCK_POLL_MS = 1000;
// current_schema() is NULL until a schema on the search_path exists (a new shadow schema): then the path names it.
const RUN_LOCK_SCHEMA = sql`coalesce(current_schema(), current_setting('search_path'))`;

/**
 * Brings the schema to the target, on one connection, outside any transaction: each migration runs its steps as
 * short transactions and concurrent index builds (./migrations/online.ts) and kysely records it once it completes,
 * so a run cut short (deadline, crash, Lambda timeout) is continued by the next. One run at a time per schema.
 */
export async function migrate<T>(db: Kysely<T>, options: MigrateOptions = {}): Promise<MigrationOutcome> {
  const { target, deadline, log, schema } = options;
  const run = new OnlineRun({ ...options.online, ...(deadline === undefined ? {} : { deadline }), ...(log ? { log } : {}) });
  return db.connection().execute(async (connection) => {
    if (!(await lockRuns(connection, deadline, log))) {
      log?.info("another migration run holds the database; this one leaves it to that");
      return { applied: [], done: false, lockRetries: 0 };
    }
    try {
      const migrator = new Migrator({
        db: connection,
        provider: { getMigrations: () => Promise.resolve(bindRun(run)) },
        // Concurrent index builds cannot run in a transaction; each step makes its own.
        disableTransactions: true,
        ...(schema ? { migrationTableSchema: schema } : {}),
      });
      if (target !== undefined) {
        const executed = (await migrator.getMigrations()).filter((info) => info.executedAt !== undefined);
        if (executed.some((info) => info.name === target)) return { applied: [], done: true, lockRetries: 0 };
        return { ...settle(await migrator.migrateTo(target), log), lockRetries: run.lockRetries };
      }
      return { ...settle(await migrator.migrateToLatest(), log), lockRetries: run.lockRetries };
    } finally {
      await sql`SELECT pg_advisory_unlock(hashtext('archive-migrations:' || ${RUN_LOCK_SCHEMA}))`.execute(connection);
    }
  });
}

function bindRun(run: OnlineRun): Record<string, Migration> {
  return Object.fromEntries(
    Object.entries(migrations).map(([name, migration]): [string, Migration] => [
      name,
      { up: (db) => migration.up(db, run), ...(migration.down ? { down: migration.down } : {}) },
    ]),
  );
}

/** Takes the schema's run lock (session level), waiting for another run until the deadline; false when it came. */
async function lockRuns<T>(connection: Kysely<T>, deadline: number | undefined, log: Logger | undefined): Promise<boolean> {
  for (let waited = 0; ; waited += RUN_LOCK_POLL_MS) {
    const taken = await sql<{ locked: boolean }>`
      SELECT pg_try_advisory_lock(hashtext('archive-migrations:' || ${RUN_LOCK_SCHEMA})) AS locked
    `.execute(connection);
    if (taken.rows[0]?.locked) return true;
    if (deadline !== undefined && Date.now() + RUN_LOCK_POLL_MS > deadline) return false;
    if (waited % 60_000 === 0) log?.info("waiting for another migration run to finish", { waitedMs: waited });
    await new Promise((resolve) => setTimeout(resolve, RUN_LOCK_POLL_MS));
  }
}

function settle(outcome: MigrationResultSet, log: Logger | undefined): Omit<MigrationOutcome, "lockRetries"> {
  const applied = (outcome.results ?? []).filter((result) => result.status === "Success").map((r) => r.migrationName);
  for (const name of applied) log?.info("migration applied", { migration: name });
  if (outcome.error instanceof MigrationPaused) {
    const paused = outcome.results?.find((result) => result.status === "Error")?.migrationName;
    log?.info("migration paused at the run's deadline", { migration: paused });
    return { applied, done: false };
  }
  if (outcome.error !== undefined) {
    const failed = outcome.results?.find((result) => result.status === "Error")?.migrationName;
    const reason = outcome.error instanceof Error ? outcome.error.message : String(outcome.error);
    log?.error("migration failed", { migration: failed, error: reason });
    throw new MigrationError(`migration ${failed ?? "(before any migration ran)"} failed: ${reason}`, failed, {
      cause: outcome.error,
    });
  }
  return { applied, done: true };
}

/**
 * Brings the schema to the newest migration, however long it takes; returns the names applied. `schema` must be the
 * one on the connections' search_path (DATABASE_SCHEMA).
 */
export async function migrateToLatest<T>(db: Kysely<T>, log?: Logger, schema?: string): Promise<string[]> {
  return (await migrate(db, { ...(log ? { log } : {}), ...(schema ? { schema } : {}) })).applied;
}

/** Brings the schema up to one named migration; tests use it to build older shapes. */
export async function migrateTo<T>(db: Kysely<T>, name: MigrationName, log?: Logger): Promise<string[]> {
  return (await migrate(db, { target: name, ...(log ? { log } : {}) })).applied;
}
