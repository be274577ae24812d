import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import middy from "@middy/core";
import { sweepDueExpirations, sweepSegmentAt } from "@archive/core/expirations/expirations";
import { createArchiveContext } from "@archive/core/platform/archiveContext";
import { configFromEnvironment } from "@archive/core/platform/config";
import type { ArchiveContext } from "@archive/core/platform/context";
import { TransientError } from "@archive/core/platform/errors";
import { MetricUnit } from "@archive/core/platform/logger";

/** Every minute: expire what is due in this minute's part of the tracker, as DynamoDB's TTL may delete days late. */
export const createHandler = (ctx: ArchiveContext) =>
  middy()
    .use(injectLambdaContext(ctx.log, { resetKeys: true }))
    .use(logMetrics(ctx.metrics))
    .handler(async () => {
      const now = ctx.clock();
      const result = await sweepDueExpirations(ctx, now, sweepSegmentAt(now));
      ctx.metrics.addMetric("ExposuresExpired", MetricUnit.Count, result.expired);
      ctx.metrics.addMetric("ExpirationsFailed", MetricUnit.Count, result.failed);
      // Failed entries stay in place for the next sweep; failing the invocation makes them visible in alarms.
      if (result.failed > 0) throw new TransientError(`${result.failed} due expirations failed; the next sweep retries them`);
      return result;
    });
export const handler = createHandler(createArchiveContext(configFromEnvironment()));
