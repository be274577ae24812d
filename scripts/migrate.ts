import { createLogger } from "@archive/core/platform/logger";
import { migrateToLatest } from "@archive/core/platform/migrate";
import { createDb } from "@archive/core/platform/postgres";

const logger = createLogger({ POWERTOOLS_SERVICE_NAME: "data-archive-migrate" });

/**
 * `npm run migrate [url]`: brings the database at the given URL (default DATABASE_URL) to the latest schema, however
 * long that takes (the deploy's Lambda runs have 15 minutes each); a run interrupted by anything resumes where it was.
 */
async function main(): Promise<number> {
  const url = process.argv[2] ?? process.env.DATABASE_URL;
  if (!url) {
    logger.error("usage: npm run migrate -- [postgresql://…] (or set DATABASE_URL)");
    return 2;
  }
  const db = createDb(url, { poolSize: 1, log: logger });
  try {
    const applied = await migrateToLatest(db, logger);
    logger.info(applied.length > 0 ? "database migrated" : "database already up to date", { applied });
    return 0;
  } catch (error) {
    logger.error("migration failed", { error: error instanceof Error ? error.message : String(error) });
    return 1;
  } finally {
    await db.destroy();
  }
}

process.exitCode = await main();
