import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import middy from "@middy/core";
import { TransientError } from "@archive/core/errors";
import { sweepDueExpirations } from "@archive/core/expirations";
import { logger, metrics } from "@archive/core/logger";

/** Every minute: expire what is due, since DynamoDB's TTL may delete entries days late. */
export const handler = middy()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics))
  .handler(async () => {
    const result = await sweepDueExpirations(new Date());
    metrics.addMetric("ExposuresExpired", MetricUnit.Count, result.expired);
    metrics.addMetric("ExpirationsFailed", MetricUnit.Count, result.failed);
    // Failed entries stay in place for the next sweep; failing the invocation makes them visible in alarms.
    if (result.failed > 0) throw new TransientError(`${result.failed} due expirations failed; the next sweep retries them`);
    return result;
  });
