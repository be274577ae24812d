import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import middy from "@middy/core";
import { superviseExposures } from "@archive/core/exposures/archivedEvent";
import type { StuckCount } from "@archive/core/exposures/exposureStatus";
import { createArchiveContext } from "@archive/core/platform/archiveContext";
import { configFromEnvironment } from "@archive/core/platform/config";
import type { ArchiveContext } from "@archive/core/platform/context";

/**
 * Every 5 minutes: stuck exposures per site (metric StuckExposures, dimension site), and the archived events a failed
 * or lost publisher left (complete exposures whose claim lapsed).
 */
export const createHandler = (ctx: ArchiveContext) =>
  middy<unknown, StuckCount & { archived: number }>()
    .use(injectLambdaContext(ctx.log, { resetKeys: true }))
    .use(logMetrics(ctx.metrics))
    .handler(() => superviseExposures(ctx));
export const handler = createHandler(createArchiveContext(configFromEnvironment()));
