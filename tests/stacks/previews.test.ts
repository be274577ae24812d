import type { Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { PREVIEWS_MEMORY_MB } from "../../stacks/previews";
import { synthesizeStage } from "./synthesize";
import { allActions, functionStatements, granting, lambdaFunction, properties, resourceById, resources } from "./templates";

let ingest: Template;
/** Production as configured: shadow mode, whose bucket is the running system's. */
let shadowIngest: Template;

beforeAll(async () => {
  ingest = (await synthesizeStage("test")).templates.Ingest;
  shadowIngest = (await synthesizeStage("prod")).templates.Ingest;
});

const queueId = (template: Template, id: string) => resourceById(template, "AWS::SQS::Queue", id)[0];

describe("previews from FITS", () => {
  it("has a previews queue that dead-letters after 5 receives, with an alarm on its dead letters", () => {
    const deadLetters = queueId(ingest, "PreviewsDeadLetterQueue");
    expect(properties(resourceById(ingest, "AWS::SQS::Queue", "PreviewsQueue")[1])).toMatchObject({
      VisibilityTimeout: 1080,
      RedrivePolicy: { deadLetterTargetArn: { "Fn::GetAtt": [deadLetters, "Arn"] }, maxReceiveCount: 5 },
    });
    ingest.hasResourceProperties("AWS::CloudWatch::Alarm", {
      Dimensions: [{ Name: "QueueName", Value: { "Fn::GetAtt": [deadLetters, "QueueName"] } }],
    });
  });

  it("runs makePreviews with sharp's layer, memory for a full frame, one check per invocation from the queue", () => {
    const [functionId] = resourceById(ingest, "AWS::Lambda::Function", "MakePreviews");
    expect(lambdaFunction(ingest, "MakePreviews")).toMatchObject({
      MemorySize: PREVIEWS_MEMORY_MB,
      Timeout: 180,
      Runtime: "nodejs22.x",
      Architectures: ["arm64"],
      Layers: [{ Ref: resourceById(ingest, "AWS::Lambda::LayerVersion", "SharpLayer")[0] }],
      VpcConfig: { SubnetIds: expect.arrayContaining([expect.anything()]) },
    });
    ingest.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      FunctionName: { Ref: functionId },
      EventSourceArn: { "Fn::GetAtt": [queueId(ingest, "PreviewsQueue"), "Arn"] },
      BatchSize: 1,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
    });
  });

  it("lets makePreviews read and write data/ only, list data/ only, and consume its queue", () => {
    const statements = functionStatements(ingest, "MakePreviews");
    expect(granting(statements, "s3:PutObject").flatMap((statement) => statement.resources)).toEqual([
      expect.stringMatching(/\/data\/\*$/),
    ]);
    expect(granting(statements, "s3:GetObject").flatMap((statement) => statement.resources)).toEqual([
      expect.stringMatching(/\/data\/\*$/),
    ]);
    expect(granting(statements, "s3:ListBucket")).toEqual([
      expect.objectContaining({ condition: { StringLike: { "s3:prefix": ["data/*"] } } }),
    ]);
    expect(granting(statements, "sqs:ReceiveMessage").flatMap((statement) => statement.resources)).toEqual([
      `<${queueId(ingest, "PreviewsQueue")}.Arn>`,
    ]);
    expect(allActions(statements)).not.toContain("s3:DeleteObject");
    for (const statement of statements) expect(statement.resources).not.toContain("*");
  });

  it("tells the data/ ingest function the previews queue, and lets it send there", () => {
    const queueUrl = { Ref: queueId(ingest, "PreviewsQueue") };
    expect(lambdaFunction(ingest, "IngestData")).toMatchObject({
      Environment: { Variables: { PREVIEWS_QUEUE_URL: queueUrl } },
    });
    expect(granting(functionStatements(ingest, "IngestData"), "sqs:SendMessage").flatMap((statement) => statement.resources)).toContain(
      `<${queueId(ingest, "PreviewsQueue")}.Arn>`,
    );
  });

  it("makes no previews in shadow mode: no queue, no function, no PREVIEWS_QUEUE_URL", () => {
    expect(Object.keys(resources(shadowIngest, "AWS::SQS::Queue")).some((id) => id.startsWith("Previews"))).toBe(false);
    expect(Object.keys(resources(shadowIngest, "AWS::Lambda::Function")).some((id) => id.startsWith("MakePreviews"))).toBe(false);
    expect(JSON.stringify(lambdaFunction(shadowIngest, "IngestData"))).not.toContain("PREVIEWS_QUEUE_URL");
  });
});
