import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import type { ArchiveConfig } from "./config";

/** The process's logger: structured JSON lines; ingestion appends key, site and base filename per record. */
export function createLogger(config: Pick<ArchiveConfig, "POWERTOOLS_SERVICE_NAME" | "LOG_LEVEL">): Logger {
  return new Logger({
    serviceName: config.POWERTOOLS_SERVICE_NAME,
    ...(config.LOG_LEVEL ? { logLevel: config.LOG_LEVEL } : {}),
  });
}

/** The process's metrics sink (CloudWatch embedded metric format). */
export function createMetrics(config: Pick<ArchiveConfig, "POWERTOOLS_SERVICE_NAME" | "POWERTOOLS_METRICS_NAMESPACE">): Metrics {
  return new Metrics({ namespace: config.POWERTOOLS_METRICS_NAMESPACE, serviceName: config.POWERTOOLS_SERVICE_NAME });
}

export type { Logger, Metrics };
export { MetricUnit } from "@aws-lambda-powertools/metrics";

/** An error as a log field: its name and message (the stack only where the logger is given the Error itself). */
export function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
