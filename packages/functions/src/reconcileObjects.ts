import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import middy from "@middy/core";
import { configFromEnvironment } from "@archive/core/platform/config";
import { createAwsContext, type AwsContext } from "@archive/core/platform/context";
import { MetricUnit } from "@archive/core/platform/logger";
import { reconcileRecent, type ReconcileReport } from "@archive/core/quarantine/reconcile";

/** Hourly: the bucket's last two hours against the delivery records; lost events re-ingested (metric ObjectsReconciled). */
export const createHandler = (ctx: AwsContext) =>
  middy<unknown, ReconcileReport>()
    .use(injectLambdaContext(ctx.log, { resetKeys: true }))
    .use(logMetrics(ctx.metrics))
    .handler(async () => {
      const report = await reconcileRecent(ctx);
      ctx.metrics.addMetric("ObjectsReconciled", MetricUnit.Count, report.reingested);
      return report;
    });
export const handler = createHandler(createAwsContext(configFromEnvironment()));
