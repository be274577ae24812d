import { Alarm, ComparisonOperator, TreatMissingData, type IMetric } from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import type { ITopic } from "aws-cdk-lib/aws-sns";
import type { IQueue } from "aws-cdk-lib/aws-sqs";
import { Duration } from "aws-cdk-lib/core";
import type { Construct } from "constructs";

/** Every alarm of the archive fires on any count above zero and tells the stage's topic. */
function alarmAboveZero(scope: Construct, id: string, description: string, metric: IMetric, topic: ITopic): Alarm {
  const alarm = new Alarm(scope, id, {
    alarmDescription: description,
    metric,
    threshold: 0,
    comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
    evaluationPeriods: 1,
    treatMissingData: TreatMissingData.NOT_BREACHING,
  });
  alarm.addAlarmAction(new SnsAction(topic));
  return alarm;
}

/** Any message in a dead-letter queue is an exposure, info image or expiration that needs a person. */
export function alarmOnDeadLetters(scope: Construct, id: string, queue: IQueue, topic: ITopic): Alarm {
  const depth = queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: "Maximum" });
  return alarmAboveZero(scope, `${id}DepthAlarm`, `Messages are waiting in the dead-letter queue ${id}`, depth, topic);
}

/** Errors and throttles of one function, each its own alarm so the notification says which. */
export function alarmOnFunction(scope: Construct, id: string, fn: IFunction, topic: ITopic): Alarm[] {
  const metrics = [
    ["Errors", fn.metricErrors({ period: Duration.minutes(5), statistic: "Sum" })],
    ["Throttles", fn.metricThrottles({ period: Duration.minutes(5), statistic: "Sum" })],
  ] as const;
  return metrics.map(([kind, metric]) => alarmAboveZero(scope, `${id}${kind}Alarm`, `${kind} in function ${id}`, metric, topic));
}

/** Any count above zero of one of the archive's own metrics (e.g. StuckExposures). */
export function alarmOnCount(scope: Construct, id: string, description: string, metric: IMetric, topic: ITopic): Alarm {
  return alarmAboveZero(scope, id, description, metric, topic);
}
