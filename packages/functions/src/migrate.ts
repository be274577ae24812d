import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import type { CloudFormationCustomResourceEvent, Context } from "aws-lambda";
import { configFromEnvironment } from "@archive/core/platform/config";
import type { ArchiveContext } from "@archive/core/platform/context";
import { createLogger } from "@archive/core/platform/logger";
import { migrate, migrationTargetSchema } from "@archive/core/platform/migrate";
import { createDatabase } from "@archive/core/platform/postgres";

const SCHEMA_RESOURCE_ID = "archive-database-schema";
/** Time kept back from the invocation's limit: the batch or statement under way finishes inside it. */
const STOP_BEFORE_TIMEOUT_MS = 60_000;

/**
 * Deploy-time custom resource behind CDK's provider framework, as both its onEvent and its isComplete handler: each
 * invocation migrates towards the deploy's target until its time is nearly up and answers whether the target is
 * reached; the framework invokes it again until it is. A failure throws and fails the deploy. Deleting the resource
 * leaves the database alone.
 */
export const createHandler = (ctx: Pick<ArchiveContext, "db" | "log" | "config">) =>
  middy<CloudFormationCustomResourceEvent, { PhysicalResourceId: string; IsComplete: boolean }>()
    .use(injectLambdaContext(ctx.log))
    .handler(async (event: CloudFormationCustomResourceEvent, context: Context) => {
      if (event.RequestType === "Delete") return { PhysicalResourceId: SCHEMA_RESOURCE_ID, IsComplete: true };
      const target = migrationTargetSchema.parse(event.ResourceProperties["Target"]);
      const deadline = Date.now() + context.getRemainingTimeInMillis() - STOP_BEFORE_TIMEOUT_MS;
      const { applied, done } = await migrate(ctx.db, {
        target,
        deadline,
        log: ctx.log,
        schema: ctx.config.DATABASE_SCHEMA,
      });
      ctx.log.info(done ? "database migrated" : "database migration continues in the next invocation", { target, applied });
      return { PhysicalResourceId: SCHEMA_RESOURCE_ID, IsComplete: done };
    });

// Only the database and a logger: the schema task needs no AWS client but the secret's.
const config = configFromEnvironment();
const log = createLogger(config);
export const handler = createHandler({ db: createDatabase(config, log), log, config });
