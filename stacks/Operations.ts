import { Rule, Schedule } from "aws-cdk-lib/aws-events";
import { LambdaFunction } from "aws-cdk-lib/aws-events-targets";
import { use, type StackContext } from "sst/constructs";
import { alarmOnFunction } from "./alarms";
import { Database } from "./Database";
import { archiveFunction } from "./functions";
import { Monitoring } from "./Monitoring";
import { Storage } from "./Storage";

/**
 * Scheduled operations of the archive: the daily count of counter gaps (missing exposures of the previous UTC day per
 * site, metric CounterGaps). The operations routes themselves are in the Api stack.
 */
export function Operations({ stack }: StackContext) {
  const { environment, config } = use(Storage);
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
  return { countCounterGaps };
}
