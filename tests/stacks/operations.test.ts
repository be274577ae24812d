import { Match, type Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { EXPOSURE_ARCHIVED_DETAIL_TYPE, EXPOSURE_ARCHIVED_SOURCE } from "../../packages/core/src/exposures/archivedEvent";
import { COUNTER_GAPS_METRIC } from "../../packages/core/src/exposures/counterGaps";
import { STUCK_EXPOSURES_METRIC } from "../../packages/core/src/exposures/exposureStatus";
import { synthesizeStage } from "./synthesize";
import { allActions, functionStatements, granting, lambdaFunction, properties, resourceById, resources } from "./templates";

let operations: Template;
let storage: Template;
let ingest: Template;

beforeAll(async () => {
  const { templates } = await synthesizeStage("test");
  operations = templates.Operations;
  storage = templates.Storage;
  ingest = templates.Ingest;
});

/** The alarms on one function's Lambda metrics. */
const functionAlarms = (functionId: string) =>
  Object.values(resources(operations, "AWS::CloudWatch::Alarm"))
    .map(properties)
    .filter((alarm) => JSON.stringify(alarm["Dimensions"] ?? []).includes(`"Ref":"${functionId}"`));

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
    const alarms = functionAlarms(functionId);
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

describe("the stuck-exposures count", () => {
  it("runs every 5 minutes on the CountStuckExposures function, in the database's network", () => {
    const [countFunction] = resourceById(operations, "AWS::Lambda::Function", "CountStuckExposures");
    operations.hasResourceProperties("AWS::Events::Rule", {
      ScheduleExpression: "rate(5 minutes)",
      State: "ENABLED",
      Targets: [Match.objectLike({ Arn: { "Fn::GetAtt": [countFunction, "Arn"] } })],
    });
    expect(lambdaFunction(operations, "CountStuckExposures")).toMatchObject({
      Runtime: "nodejs22.x",
      Timeout: 240,
      VpcConfig: { SubnetIds: expect.arrayContaining([expect.anything()]) },
    });
  });

  it("may read the database secret, read data/ (the links its events carry) and put events on the stage's bus only", () => {
    const statements = functionStatements(operations, "CountStuckExposures");
    expect(allActions(statements)).toEqual(["events:PutEvents", "s3:GetObject", "secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"]);
    expect(granting(statements, "events:PutEvents").flatMap((statement) => statement.resources)).toEqual([
      expect.stringMatching(/ArchiveEvents/),
    ]);
    expect(granting(statements, "s3:GetObject").flatMap((statement) => statement.resources)).toEqual([expect.stringMatching(/\/data\/\*$/)]);
    for (const statement of statements) expect(statement.resources).not.toContain("*");
  });

  it("alarms on StuckExposures above zero, to the stage's alarm topic, and on the function's errors and throttles", () => {
    const [functionId] = resourceById(operations, "AWS::Lambda::Function", "CountStuckExposures");
    operations.hasResourceProperties("AWS::CloudWatch::Alarm", {
      MetricName: STUCK_EXPOSURES_METRIC,
      Namespace: "DataArchive",
      Dimensions: [{ Name: "service", Value: "data-archive" }],
      Statistic: "Maximum",
      Period: 300,
      Threshold: 0,
      ComparisonOperator: "GreaterThanThreshold",
      AlarmActions: [{ "Fn::ImportValue": Match.stringLikeRegexp("AlarmTopic") }],
    });
    expect(functionAlarms(functionId).map((alarm) => alarm["MetricName"]).sort()).toEqual(["Errors", "Throttles"]);
  });
});

describe("the exposure-archived event", () => {
  it("has the stage's own bus, named in every function's EVENT_BUS_NAME", () => {
    const [busId] = resourceById(storage, "AWS::Events::EventBus", "ArchiveEvents");
    expect(properties(resourceById(storage, "AWS::Events::EventBus", "ArchiveEvents")[1])["Name"]).toBe("test-data-archive-events");
    const environment = z
      .object({ Environment: z.object({ Variables: z.record(z.unknown()) }) })
      .parse(lambdaFunction(operations, "CountStuckExposures")).Environment.Variables;
    expect(JSON.stringify(environment["EVENT_BUS_NAME"])).toMatch(new RegExp(busId.slice(0, 12)));
  });

  it("the data ingester may put events on that bus", () => {
    expect(granting(functionStatements(ingest, "IngestData"), "events:PutEvents").flatMap((statement) => statement.resources)).toEqual([
      expect.stringMatching(/ArchiveEvents/),
    ]);
  });

  it("an example rule sends every exposure-archived event of the bus to the ArchivedExposuresExample queue", () => {
    const [queueId] = resourceById(operations, "AWS::SQS::Queue", "ArchivedExposuresExample");
    const [, rule] = resourceById(operations, "AWS::Events::Rule", "ArchivedExposuresExampleRule");
    expect(properties(rule)).toMatchObject({
      EventBusName: { "Fn::ImportValue": expect.stringMatching(/ArchiveEvents/) },
      EventPattern: { source: [EXPOSURE_ARCHIVED_SOURCE], "detail-type": [EXPOSURE_ARCHIVED_DETAIL_TYPE] },
      Targets: [expect.objectContaining({ Arn: { "Fn::GetAtt": [queueId, "Arn"] } })],
    });
    // The queue lets EventBridge (this rule only) send to it.
    operations.hasResourceProperties("AWS::SQS::QueuePolicy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: Match.arrayWith(["sqs:SendMessage"]),
            Principal: { Service: "events.amazonaws.com" },
            Condition: { ArnEquals: { "aws:SourceArn": { "Fn::GetAtt": [Match.stringLikeRegexp("ArchivedExposuresExampleRule"), "Arn"] } } },
          }),
        ]),
      },
    });
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
    expect(functionAlarms(functionId).map((alarm) => alarm["MetricName"]).sort()).toEqual(["Errors", "Throttles"]);
  });
});
