import { Metric } from "aws-cdk-lib/aws-cloudwatch";
import { Rule, Schedule } from "aws-cdk-lib/aws-events";
import { LambdaFunction, SqsQueue } from "aws-cdk-lib/aws-events-targets";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import { Duration } from "aws-cdk-lib/core";
import { use, type StackContext } from "sst/constructs";
import { EXPOSURE_ARCHIVED_DETAIL_TYPE, EXPOSURE_ARCHIVED_SOURCE } from "../packages/core/src/exposures/archivedEvent";
import { STUCK_EXPOSURES_METRIC } from "../packages/core/src/exposures/exposureStatus";
import { configSchema } from "../packages/core/src/platform/config";
import { alarmOnCount, alarmOnFunction } from "./alarms";
import { Database } from "./Database";
import { Ingest } from "./Ingest";
import { archiveFunction } from "./functions";
import { Monitoring } from "./Monitoring";
import { Storage } from "./Storage";

/**
 * Scheduled operations of the archive: the daily count of counter gaps (missing exposures of the previous UTC day per
 * site, metric CounterGaps), every 5 minutes the count of stuck exposures (metric StuckExposures, alarmed) with the
 * sweep of archived events a failed publisher left, the hourly reconciler (re-ingests objects whose events were
 * lost); and an example consumer of the exposure-archived event. The operations routes themselves are in the Api stack.
 */
export function Operations({ stack }: StackContext) {
  const { bucket, eventBus, environment, config, tables } = use(Storage);
  const { ingestQueues, ingestQueueEnvironment } = use(Ingest);
  const { database, migrations } = use(Database);
  const { alarmTopic } = use(Monitoring);

  const countCounterGaps = archiveFunction(stack, "CountCounterGaps", {
    handler: "countCounterGaps",
    memorySize: 256,
    timeoutSeconds: 120,
    environment,
    database,
    connects: true,
    retainLogs: config.retainData,
    // It only reads `images` (through the database secret archiveFunction grants) and writes metrics to its log.
    statements: [],
  });
  countCounterGaps.node.addDependency(migrations);
  new Rule(stack, "CounterGapsSchedule", {
    description: "Count the previous UTC day's missing exposures per site (metric CounterGaps)",
    // Midday UTC: every site's night of the previous UTC day is over, and its late uploads have had hours to arrive.
    schedule: Schedule.cron({ minute: "0", hour: "12" }),
    // A retry publishes the same day's values again: read the metric's Maximum per day, not its Sum.
    targets: [new LambdaFunction(countCounterGaps, { retryAttempts: 2 })],
  });
  // A gap is for a person to look at, not to page anyone: no alarm on CounterGaps; the function's own failures alarm.
  alarmOnFunction(stack, countCounterGaps.id, countCounterGaps, alarmTopic);

  const countStuckExposures = archiveFunction(stack, "CountStuckExposures", {
    handler: "countStuckExposures",
    memorySize: 256,
    // Less than the schedule's period, so two runs never overlap.
    timeoutSeconds: 240,
    environment,
    database,
    connects: true,
    retainLogs: config.retainData,
    statements: [
      // The sweep publishes archived events whose image links it signs: reading data/ is what makes those links work.
      new PolicyStatement({ actions: ["s3:GetObject"], resources: [bucket.arnForObjects("data/*")] }),
    ],
  });
  eventBus.grantPutEventsTo(countStuckExposures);
  countStuckExposures.node.addDependency(migrations);
  new Rule(stack, "StuckExposuresSchedule", {
    description: "Count stuck exposures per site (metric StuckExposures) and publish archived events left unpublished",
    schedule: Schedule.rate(Duration.minutes(5)),
    targets: [new LambdaFunction(countStuckExposures, { retryAttempts: 0 })],
  });
  alarmOnFunction(stack, countStuckExposures.id, countStuckExposures, alarmTopic);
  // The network's total (the function's own dimension, service); the per-site series say where: `npx archive stuck`.
  const defaults = configSchema.pick({ POWERTOOLS_METRICS_NAMESPACE: true, POWERTOOLS_SERVICE_NAME: true }).parse({});
  alarmOnCount(
    stack,
    "StuckExposuresAlarm",
    "Exposures are stuck: not complete long after their first file (npx archive stuck)",
    new Metric({
      namespace: defaults.POWERTOOLS_METRICS_NAMESPACE,
      metricName: STUCK_EXPOSURES_METRIC,
      dimensionsMap: { service: defaults.POWERTOOLS_SERVICE_NAME },
      statistic: "Maximum",
      period: Duration.minutes(5),
    }),
    alarmTopic,
  );

  // An example consumer of the exposure-archived event: a rule on the stage's bus feeding a queue a pipeline reads.
  const archivedExposures = new Queue(stack, "ArchivedExposuresExample", {
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(4),
  });
  new Rule(stack, "ArchivedExposuresExampleRule", {
    description: "Example: every exposure-archived event to the ArchivedExposuresExample queue",
    eventBus,
    eventPattern: { source: [EXPOSURE_ARCHIVED_SOURCE], detailType: [EXPOSURE_ARCHIVED_DETAIL_TYPE] },
    targets: [new SqsQueue(archivedExposures)],
  });
  stack.addOutputs({ ArchivedExposuresExampleQueueUrl: archivedExposures.queueUrl });

  // Hourly, the bucket's last two hours against the delivery records: lost events are re-ingested.
  const reconcileObjects = archiveFunction(stack, "ReconcileObjects", {
    handler: "reconcileObjects",
    memorySize: 512,
    // Less than the schedule's period, so two runs never overlap.
    timeoutSeconds: 900,
    environment: { ...environment, ...ingestQueueEnvironment },
    database,
    connects: false,
    retainLogs: config.retainData,
    statements: [
      new PolicyStatement({ actions: ["s3:ListBucket"], resources: [bucket.bucketArn] }),
      new PolicyStatement({ actions: ["dynamodb:BatchGetItem"], resources: [tables.objectDeliveries.tableArn] }),
      // A re-ingested object's quarantine item, if any, is marked re-ingested.
      new PolicyStatement({ actions: ["dynamodb:UpdateItem"], resources: [tables.quarantine.tableArn] }),
      new PolicyStatement({ actions: ["sqs:SendMessage"], resources: ingestQueues.map((queue) => queue.queueArn) }),
    ],
  });
  new Rule(stack, "ReconcileSchedule", {
    description: "Re-ingest objects of the last two hours whose events were lost",
    schedule: Schedule.rate(Duration.hours(1)),
    // The next run covers the same objects again: no retry.
    targets: [new LambdaFunction(reconcileObjects, { retryAttempts: 0 })],
  });
  alarmOnFunction(stack, reconcileObjects.id, reconcileObjects, alarmTopic);
  return { countCounterGaps, countStuckExposures, reconcileObjects };
}
