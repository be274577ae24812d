import { Topic, type ITopic } from "aws-cdk-lib/aws-sns";
import { EmailSubscription } from "aws-cdk-lib/aws-sns-subscriptions";
import type { StackContext } from "sst/constructs";
import { stageConfigOf } from "./stageConfig";

/** The SNS topic every alarm of the stage notifies. */
export function Monitoring({ stack, app }: StackContext): { alarmTopic: ITopic } {
  const setting = stageConfigOf(app).alarmTopic;
  if (setting.kind === "existing") {
    return { alarmTopic: Topic.fromTopicArn(stack, "AlarmTopic", setting.arn) };
  }
  const alarmTopic = new Topic(stack, "AlarmTopic", { displayName: `data-archive ${app.stage} alarms` });
  for (const email of setting.emails) alarmTopic.addSubscription(new EmailSubscription(email));
  stack.addOutputs({ AlarmTopicArn: alarmTopic.topicArn });
  return { alarmTopic };
}
