import type { Kysely } from "kysely";
import type { Database } from "../exposures/imagesTable";
import type { ArchiveConfig } from "./config";
import { createAwsContext, type ArchiveContext, type ContextOverrides } from "./context";
import { createDatabase } from "./postgres";

/**
 * The whole context, Postgres included (kept apart from context.ts so functions without a database never bundle pg).
 * A test passes its own `db`; otherwise the pool comes from DATABASE_URL or the DATABASE_SECRET_ARN secret.
 */
export function createArchiveContext(
  config: ArchiveConfig,
  overrides: ContextOverrides & { db?: Kysely<Database> } = {},
): ArchiveContext {
  const aws = createAwsContext(config, overrides);
  // Added in place, not spread: a spread would read, and so build, every lazily built SDK client.
  return Object.assign(aws, { db: overrides.db ?? createDatabase(config, aws.log) });
}
