import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import { configFromEnvironment } from "@archive/core/platform/config";
import type { ArchiveContext } from "@archive/core/platform/context";
import { createLogger } from "@archive/core/platform/logger";
import { migrateToLatest } from "@archive/core/platform/migrate";
import { createDatabase } from "@archive/core/platform/postgres";

/** Deploy-time custom resource (SST Script): migrate to the latest schema; a failure throws and fails the deploy. */
export const createHandler = (ctx: Pick<ArchiveContext, "db" | "log">) =>
  middy()
    .use(injectLambdaContext(ctx.log))
    .handler(async () => {
      const applied = await migrateToLatest(ctx.db, ctx.log);
      ctx.log.info("database migrated", { applied });
      return { PhysicalResourceId: "archive-database-schema", Data: { applied: applied.join(",") } };
    });

// Only the database and a logger: the schema task needs no AWS client but the secret's.
const config = configFromEnvironment();
const log = createLogger(config);
export const handler = createHandler({ db: createDatabase(config, log), log });
