import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import { createArchiveContext } from "@archive/core/platform/archiveContext";
import { configFromEnvironment } from "@archive/core/platform/config";
import type { ArchiveContext } from "@archive/core/platform/context";
import { migrateToLatest } from "@archive/core/platform/migrate";

/** Deploy-time custom resource (SST Script): migrate to the latest schema; a failure throws and fails the deploy. */
export const createHandler = (ctx: ArchiveContext) =>
  middy()
    .use(injectLambdaContext(ctx.log))
    .handler(async () => {
      const applied = await migrateToLatest(ctx.db, ctx.log);
      ctx.log.info("database migrated", { applied });
      return { PhysicalResourceId: "archive-database-schema", Data: { applied: applied.join(",") } };
    });
export const handler = createHandler(createArchiveContext(configFromEnvironment()));
