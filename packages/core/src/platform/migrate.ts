import { Migrator, type Kysely, type Migration, type MigrationProvider, type MigrationResultSet } from "kysely";
import * as legacyImages from "./migrations/2025_01_01_0000_legacy_images";
import * as uniqueBaseFilename from "./migrations/2025_01_02_0000_unique_base_filename";
import * as headerJson from "./migrations/2025_01_03_0000_header_json";
import * as jpgMediumReduction from "./migrations/2025_02_01_0000_jpg_medium_reduction";
import * as contractRows from "./migrations/2025_03_01_0000_contract_rows";
import * as readIndexes from "./migrations/2025_03_02_0000_read_indexes";
import { ArchiveError } from "./errors";
import type { Logger } from "./logger";

/** Every migration, by the name kysely records; imported explicitly so bundles carry them (no directory reads). */
export const migrations: Readonly<Record<string, Migration>> = {
  "2025_01_01_0000_legacy_images": legacyImages,
  "2025_01_02_0000_unique_base_filename": uniqueBaseFilename,
  "2025_01_03_0000_header_json": headerJson,
  "2025_02_01_0000_jpg_medium_reduction": jpgMediumReduction,
  "2025_03_01_0000_contract_rows": contractRows,
  "2025_03_02_0000_read_indexes": readIndexes,
};

export type MigrationName = keyof typeof migrations;

const provider: MigrationProvider = { getMigrations: () => Promise.resolve({ ...migrations }) };

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

// The Migrator's db is typed loosely by kysely itself; any Kysely instance will do.
function migrator<T>(db: Kysely<T>): Migrator {
  return new Migrator({ db, provider });
}

function settle(outcome: MigrationResultSet, log: Logger | undefined): string[] {
  const applied = (outcome.results ?? []).filter((result) => result.status === "Success").map((r) => r.migrationName);
  if (outcome.error !== undefined) {
    const failed = outcome.results?.find((result) => result.status === "Error")?.migrationName;
    const reason = outcome.error instanceof Error ? outcome.error.message : String(outcome.error);
    log?.error("migration failed", { migration: failed, error: reason });
    throw new MigrationError(`migration ${failed ?? "(before any migration ran)"} failed: ${reason}`, failed, {
      cause: outcome.error,
    });
  }
  for (const name of applied) log?.info("migration applied", { migration: name });
  return applied;
}

/** Brings the schema to the newest migration, in one transaction; returns the names applied. */
export async function migrateToLatest<T>(db: Kysely<T>, log?: Logger): Promise<string[]> {
  return settle(await migrator(db).migrateToLatest(), log);
}

/** Brings the schema up (or down) to one named migration; tests use it to build older shapes. */
export async function migrateTo<T>(db: Kysely<T>, name: MigrationName, log?: Logger): Promise<string[]> {
  return settle(await migrator(db).migrateTo(name), log);
}
