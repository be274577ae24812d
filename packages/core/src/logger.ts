import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";

/** The one logger: structured JSON lines; handlers append key, site and base filename per record. */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? "data-archive" });

/** The one metrics sink (CloudWatch embedded metric format). */
export const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? "DataArchive",
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? "data-archive",
});
