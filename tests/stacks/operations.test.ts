import { Match, type Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { COUNTER_GAPS_METRIC } from "../../packages/core/src/exposures/counterGaps";
import { synthesizeStage } from "./synthesize";
import { allActions, functionStatements, granting, lambdaFunction, properties, resourceById, resources } from "./templates";

let operations: Template;

beforeAll(async () => {
  operations = (await synthesizeStage("test")).templates.Operations;
});

describe("the daily counter-gaps count", () => {
  it("runs every day at 12:00 UTC, on the CountCounterGaps function", () => {
    const [countFunction] = resourceById(operations, "AWS::Lambda::Function", "CountCounterGaps");
    operations.hasResourceProperties("AWS::Events::Rule", {
      ScheduleExpression: "cron(0 12 * * ? *)",
      State: "ENABLED",
      Targets: [Match.objectLike({ Arn: { "Fn::GetAtt": [countFunction, "Arn"] }, RetryPolicy: { MaximumRetryAttempts: 2 } })],
    });
    operations.hasResourceProperties("AWS::Lambda::Permission", {
      Action: "lambda:InvokeFunction",
      Principal: "events.amazonaws.com",
      FunctionName: { "Fn::GetAtt": [countFunction, "Arn"] },
    });
  });

  it("runs on nodejs22.x and arm64, in the database's network", () => {
    expect(lambdaFunction(operations, "CountCounterGaps")).toMatchObject({
      Runtime: "nodejs22.x",
      Architectures: ["arm64"],
      VpcConfig: { SubnetIds: expect.arrayContaining([expect.anything()]) },
    });
  });

  it("may only read the database secret: no S3, DynamoDB or SQS action, no wildcard", () => {
    const statements = functionStatements(operations, "CountCounterGaps");
    expect(allActions(statements)).toEqual(["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"]);
    for (const statement of statements) expect(statement.resources).not.toContain("*");
  });

  it("alarms on the function's errors and throttles, never on the CounterGaps metric itself", () => {
    const [functionId] = resourceById(operations, "AWS::Lambda::Function", "CountCounterGaps");
    const alarms = Object.values(resources(operations, "AWS::CloudWatch::Alarm"))
      .map(properties)
      .filter((alarm) => JSON.stringify(alarm["Dimensions"]).includes(functionId));
    expect(alarms.map((alarm) => alarm["MetricName"]).sort()).toEqual(["Errors", "Throttles"]);
    for (const alarm of alarms) {
      expect(alarm).toMatchObject({
        Namespace: "AWS/Lambda",
        Dimensions: [{ Name: "FunctionName", Value: { Ref: functionId } }],
        AlarmActions: [{ "Fn::ImportValue": expect.stringMatching(/AlarmTopic/) }],
      });
      expect(alarm["MetricName"]).not.toBe(COUNTER_GAPS_METRIC);
    }
  });
});

describe("the hourly reconciler", () => {
  it("runs every hour on the ReconcileObjects function, outside the database's network", () => {
    const [reconcileFunction] = resourceById(operations, "AWS::Lambda::Function", "ReconcileObjects");
    operations.hasResourceProperties("AWS::Events::Rule", {
      ScheduleExpression: "rate(1 hour)",
      State: "ENABLED",
      Targets: [Match.objectLike({ Arn: { "Fn::GetAtt": [reconcileFunction, "Arn"] }, RetryPolicy: { MaximumRetryAttempts: 0 } })],
    });
    const fn = lambdaFunction(operations, "ReconcileObjects");
    expect(fn).toMatchObject({ Runtime: "nodejs22.x", Architectures: ["arm64"], Timeout: 900 });
    expect(fn["VpcConfig"]).toBeUndefined();
    for (const name of ["DATA_INGEST_QUEUE_URL", "INFO_IMAGES_INGEST_QUEUE_URL", "ALLSKY_INGEST_QUEUE_URL"]) expect(JSON.stringify(fn["Environment"])).toContain(`"${name}"`);
  });

  it("may list the bucket, batch-read the delivery records, mark the quarantine and send to the ingest queues: nothing else", () => {
    const statements = functionStatements(operations, "ReconcileObjects");
    expect(allActions(statements)).toEqual(["dynamodb:BatchGetItem", "dynamodb:UpdateItem", "s3:ListBucket", "sqs:SendMessage"]);
    expect(granting(statements, "s3:ListBucket")[0]?.resources).toEqual([expect.stringMatching(/ArchiveBucket\w*Arn/)]);
    expect(granting(statements, "dynamodb:BatchGetItem")[0]?.resources).toEqual([expect.stringMatching(/ObjectDeliveries/)]);
    expect(granting(statements, "dynamodb:UpdateItem")[0]?.resources).toEqual([expect.stringMatching(/Quarantine/)]);
    const queues = granting(statements, "sqs:SendMessage").flatMap((statement) => statement.resources);
    expect(queues).toHaveLength(3);
    for (const queue of queues) expect(queue).toMatch(/(Data|InfoImages|Allsky)Queue/);
    for (const statement of statements) expect(statement.resources).not.toContain("*");
  });

  it("alarms on its errors and throttles", () => {
    const [functionId] = resourceById(operations, "AWS::Lambda::Function", "ReconcileObjects");
    const alarms = Object.values(resources(operations, "AWS::CloudWatch::Alarm"))
      .map(properties)
      .filter((alarm) => JSON.stringify(alarm["Dimensions"]).includes(functionId));
    expect(alarms.map((alarm) => alarm["MetricName"]).sort()).toEqual(["Errors", "Throttles"]);
  });
});
