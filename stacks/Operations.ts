import { Rule, Schedule } from "aws-cdk-lib/aws-events";
import { LambdaFunction } from "aws-cdk-lib/aws-events-targets";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import { Duration } from "aws-cdk-lib/core";
import { use, type StackContext } from "sst/constructs";
import { alarmOnFunction } from "./alarms";
import { Database } from "./Database";
import { Ingest } from "./Ingest";
import { archiveFunction } from "./functions";
import { Monitoring } from "./Monitoring";
import { Storage } from "./Storage";

/**
 * Scheduled operations of the archive: the daily count of counter gaps (missing exposures of the previous UTC day per
 * site, metric CounterGaps) and the hourly reconciler (re-ingests objects whose events were lost). The operations
 * routes themselves are in the Api stack.
 */
export function Operations({ stack }: StackContext) {
  const { environment, config, bucket, tables } = use(Storage);
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
  return { countCounterGaps, reconcileObjects };
}
