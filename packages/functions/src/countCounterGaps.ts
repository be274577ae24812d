import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import middy from "@middy/core";
import { publishCounterGaps, type CounterGapsCount } from "@archive/core/exposures/counterGaps";
import { createArchiveContext } from "@archive/core/platform/archiveContext";
import { configFromEnvironment } from "@archive/core/platform/config";
import type { ArchiveContext } from "@archive/core/platform/context";

/** Daily: the previous UTC day's missing exposures per site (metric CounterGaps, dimension site). */
export const createHandler = (ctx: ArchiveContext) =>
  middy<unknown, CounterGapsCount>()
    .use(injectLambdaContext(ctx.log, { resetKeys: true }))
    .use(logMetrics(ctx.metrics))
    .handler(async () => publishCounterGaps(ctx, ctx.clock()));
export const handler = createHandler(createArchiveContext(configFromEnvironment()));
