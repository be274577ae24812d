import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import { database } from "@archive/core/db";
import { logger } from "@archive/core/logger";
import { migrateToLatest } from "@archive/core/migrate";

/** Deploy-time custom resource (SST Script): migrate to the latest schema; a failure throws and fails the deploy. */
export const handler = middy()
  .use(injectLambdaContext(logger))
  .handler(async () => {
    const applied = await migrateToLatest(database());
    logger.info("database migrated", { applied });
    return { PhysicalResourceId: "archive-database-schema", Data: { applied: applied.join(",") } };
  });
