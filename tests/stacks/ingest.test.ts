import { INGEST_ROUTES } from "../../packages/core/src/deliveries/pipelines";
import { Match, type Template } from "aws-cdk-lib/assertions";
import { stageConfig } from "../../stacks/stageConfig";
import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { synthesizeStage } from "./synthesize";
import {
  allActions,
  functionStatements,
  granting,
  lambdaFunction,
  properties,
  render,
  resourceById,
  resources,
} from "./templates";

let ingest: Template;
let prodIngest: Template;
/** A stage that owns its bucket and chose EventBridge. */
let bridgedIngest: Template;

beforeAll(async () => {
  ingest = (await synthesizeStage("test")).templates.Ingest;
  prodIngest = (await synthesizeStage("prod")).templates.Ingest;
  bridgedIngest = (await synthesizeStage("test", { config: { ...stageConfig("test"), objectEvents: "eventbridge" } })).templates.Ingest;
});

const queueConfigurations = z.array(
  z.object({
    Events: z.array(z.string()),
    Filter: z.object({ Key: z.object({ FilterRules: z.array(z.object({ Name: z.string(), Value: z.string() })) }) }),
    QueueArn: z.unknown(),
  }),
);

function notifications(template: Template) {
  const [notification] = Object.values(resources(template, "Custom::S3BucketNotifications"));
  if (!notification) throw new Error("no bucket notifications");
  const props = properties(notification);
  const configuration = z.object({ QueueConfigurations: queueConfigurations }).parse(props["NotificationConfiguration"]);
  return { props, queues: configuration.QueueConfigurations };
}

const queueLogicalId = (template: Template, id: string) => resourceById(template, "AWS::SQS::Queue", id)[0];

describe("S3 notifications", () => {
  it.each(INGEST_ROUTES.map((route) => [route.prefix, `${route.functionName.replace(/^ingest/, "")}Queue`]))(
    "sends objects created under %s, and only those, to %s (core's ingest table)",
    (prefix, queue) => {
    const { queues } = notifications(ingest);
    const forPrefix = queues.filter((q) => q.Filter.Key.FilterRules.some((rule) => rule.Value === prefix));
    expect(forPrefix).toHaveLength(1);
    expect(forPrefix[0]?.Events).toEqual(["s3:ObjectCreated:*"]);
    expect(forPrefix[0]?.Filter.Key.FilterRules).toEqual([{ Name: "prefix", Value: prefix }]);
    expect(render(forPrefix[0]?.QueueArn)).toBe(`<${queueLogicalId(ingest, queue)}.Arn>`);
    },
  );

  it("covers the three prefixes sites upload to", () => {
    expect(INGEST_ROUTES.map((route) => route.prefix)).toEqual(["data/", "info-images/", "allsky/"]);
  });

  it("configures exactly three notifications, none for removed objects", () => {
    const { queues } = notifications(ingest);
    expect(queues).toHaveLength(3);
    expect(queues.flatMap((q) => q.Events)).not.toContain("s3:ObjectRemoved:*");
  });

});

/** The bucket-notification resource of a stage that reads its events through EventBridge. */
function eventBridgeSwitch(template: Template) {
  const switches = Object.values(resources(template, "Custom::S3BucketNotifications"));
  expect(switches).toHaveLength(1);
  return properties(switches[0] ?? { Type: "" });
}

const rules = (template: Template) =>
  Object.entries(resources(template, "AWS::Events::Rule")).filter(([, rule]) => "EventPattern" in properties(rule));

describe("S3 events through EventBridge, beside the old service's notifications", () => {
  it("turns on EventBridge delivery on production's bucket, additively, adding no notification that could overlap the old service's", () => {
    expect(eventBridgeSwitch(prodIngest)).toMatchObject({
      BucketName: "photonranch-001",
      // Unmanaged: the handler reads the bucket's configuration and keeps every notification it did not add.
      Managed: false,
      NotificationConfiguration: { EventBridgeConfiguration: {} },
    });
    expect(eventBridgeSwitch(prodIngest)["NotificationConfiguration"]).toEqual({ EventBridgeConfiguration: {} });
  });

  it.each(INGEST_ROUTES.map((route) => [route.prefix, `${route.functionName.replace(/^ingest/, "")}`]))(
    "sends production's Object Created events under %s, and only those, to the %s queue (core's ingest table)",
    (prefix, id) => {
      const forPrefix = rules(prodIngest).filter(([, rule]) => JSON.stringify(properties(rule)["EventPattern"]).includes(`"${prefix}"`));
      expect(forPrefix).toHaveLength(1);
      expect(properties(forPrefix[0]?.[1] ?? { Type: "" })).toMatchObject({
        State: "ENABLED",
        EventPattern: {
          source: ["aws.s3"],
          "detail-type": ["Object Created"],
          detail: { bucket: { name: ["photonranch-001"] }, object: { key: [{ prefix }] } },
        },
        Targets: [
          {
            Arn: { "Fn::GetAtt": [queueLogicalId(prodIngest, `${id}Queue`), "Arn"] },
            DeadLetterConfig: { Arn: { "Fn::GetAtt": [queueLogicalId(prodIngest, `${id}DeadLetterQueue`), "Arn"] } },
          },
        ],
      });
    },
  );

  it("lets EventBridge send to each ingest queue only from that queue's rule, and S3 send to none", () => {
    for (const id of ["Data", "InfoImages", "Allsky"]) {
      const [ruleId] = resourceById(prodIngest, "AWS::Events::Rule", `${id}ObjectCreatedRule`);
      prodIngest.hasResourceProperties("AWS::SQS::QueuePolicy", {
        Queues: [{ Ref: queueLogicalId(prodIngest, `${id}Queue`) }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: "Allow",
              Principal: { Service: "events.amazonaws.com" },
              Condition: { ArnEquals: { "aws:SourceArn": { "Fn::GetAtt": [ruleId, "Arn"] } } },
            }),
          ]),
        },
      });
    }
    expect(JSON.stringify(resources(prodIngest, "AWS::SQS::QueuePolicy"))).not.toContain("s3.amazonaws.com");
  });

  it("a stage that owns its bucket may choose EventBridge too: its bucket then has no queue notification, three rules", () => {
    expect(eventBridgeSwitch(bridgedIngest)).toMatchObject({
      Managed: false,
      NotificationConfiguration: { EventBridgeConfiguration: {} },
    });
    expect(rules(bridgedIngest)).toHaveLength(3);
    expect(rules(ingest)).toHaveLength(0);
  });
});

describe("queues", () => {
  it.each(["Data", "InfoImages", "Allsky"])(
    "%s queue redrives to its own dead-letter queue after 5 receives",
    (id) => {
      const [, queue] = resourceById(ingest, "AWS::SQS::Queue", `${id}Queue`);
      const deadLetters = queueLogicalId(ingest, `${id}DeadLetterQueue`);
      expect(properties(queue)).toMatchObject({
        RedrivePolicy: { deadLetterTargetArn: { "Fn::GetAtt": [deadLetters, "Arn"] }, maxReceiveCount: 5 },
        VisibilityTimeout: 360,
        SqsManagedSseEnabled: true,
      });
    },
  );

  it("lets S3 send to each ingest queue only from the archive bucket", () => {
    const policies = Object.values(resources(ingest, "AWS::SQS::QueuePolicy")).filter((policy) =>
      JSON.stringify(policy).includes("s3.amazonaws.com"),
    );
    expect(policies).toHaveLength(3);
    for (const policy of policies) {
      expect(JSON.stringify(properties(policy)["PolicyDocument"])).toContain("aws:SourceArn");
    }
  });
});

describe("event source mappings", () => {
  it.each([
    ["IngestData", "DataQueue", 5],
    ["IngestInfoImages", "InfoImagesQueue", 2],
    ["IngestAllsky", "AllskyQueue", 2],
  ])("%s drains %s in batches with partial failures and at most %i at once", (fn, queue, concurrency) => {
    const [functionId] = resourceById(ingest, "AWS::Lambda::Function", fn);
    ingest.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      FunctionName: { Ref: functionId },
      EventSourceArn: { "Fn::GetAtt": [queueLogicalId(ingest, queue), "Arn"] },
      BatchSize: 10,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      ScalingConfig: { MaximumConcurrency: concurrency },
    });
  });

  it("caps production's data ingest at its stage's database connection budget", () => {
    prodIngest.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      EventSourceArn: { "Fn::GetAtt": [queueLogicalId(prodIngest, "DataQueue"), "Arn"] },
      ScalingConfig: { MaximumConcurrency: 20 },
    });
  });

  it("feeds the expirer only TTL deletions from the tracker's stream, with retries, bisection and a dead-letter queue", () => {
    const [expireData] = resourceById(ingest, "AWS::Lambda::Function", "ExpireData");
    const [, mapping] = Object.entries(resources(ingest, "AWS::Lambda::EventSourceMapping")).find(
      ([, m]) => z.object({ Ref: z.string() }).parse(properties(m)["FunctionName"]).Ref === expireData,
    ) ?? [undefined, undefined];
    expect(mapping).toBeDefined();
    const props = mapping ? properties(mapping) : {};
    expect(render(props["EventSourceArn"])).toMatch(/ExpirationsTable.*StreamArn/);
    expect(props).toMatchObject({
      StartingPosition: "TRIM_HORIZON",
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 5,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      DestinationConfig: {
        OnFailure: { Destination: { "Fn::GetAtt": [queueLogicalId(ingest, "ExpirationDeadLetterQueue"), "Arn"] } },
      },
    });
    const filters = z.object({ Filters: z.array(z.object({ Pattern: z.string() })) }).parse(props["FilterCriteria"]);
    expect(filters.Filters.map((f) => JSON.parse(f.Pattern))).toEqual([
      {
        eventName: ["REMOVE"],
        userIdentity: { type: ["Service"], principalId: ["dynamodb.amazonaws.com"] },
      },
    ]);
  });

  it("sweeps due expirations every minute", () => {
    const [sweep] = resourceById(ingest, "AWS::Lambda::Function", "SweepExpirations");
    ingest.hasResourceProperties("AWS::Events::Rule", {
      ScheduleExpression: "rate(1 minute)",
      State: "ENABLED",
      Targets: [Match.objectLike({ Arn: { "Fn::GetAtt": [sweep, "Arn"] } })],
    });
  });
});

describe("ingest functions", () => {
  const ids = ["IngestData", "IngestInfoImages", "IngestAllsky", "ExpireData", "SweepExpirations"];

  it.each(ids)("%s runs on nodejs22.x, arm64, with the configuration variables set", (id) => {
    const fn = lambdaFunction(ingest, id);
    expect(fn["Runtime"]).toBe("nodejs22.x");
    expect(fn["Architectures"]).toEqual(["arm64"]);
    const variables = z.object({ Variables: z.record(z.unknown()) }).parse(fn["Environment"]).Variables;
    for (const name of ["BUCKET_NAME", "DATASTREAM_QUEUE_URL", "EXPIRATION_TABLE", "UPLOAD_LOG_TABLE", "INFO_IMAGES_TABLE"]) {
      expect(variables, name).toHaveProperty(name);
    }
  });

  it("gives the data ingester 1024 MB and the sharp layer", () => {
    const fn = lambdaFunction(ingest, "IngestData");
    expect(fn["MemorySize"]).toBe(1024);
    const [layer] = resourceById(ingest, "AWS::Lambda::LayerVersion", "SharpLayer");
    expect(fn["Layers"]).toEqual([{ Ref: layer }]);
    ingest.hasResourceProperties("AWS::Lambda::LayerVersion", { CompatibleArchitectures: ["arm64"] });
  });

  it("runs the database users of a new-database stage inside its VPC", () => {
    for (const id of ["IngestData", "ExpireData", "SweepExpirations"]) {
      expect(lambdaFunction(ingest, id)["VpcConfig"], id).toBeDefined();
    }
    expect(lambdaFunction(ingest, "IngestAllsky")["VpcConfig"]).toBeUndefined();
  });
});

describe("least privilege", () => {
  const bucket = /^arn:<AWS::Partition>:s3:::<import:test-data-archive-Storage:ExportsOutputRefArchiveBucket\w+>$/;
  const objectsUnder = (statement: { resources: string[] } | undefined) =>
    (statement?.resources ?? []).map((resource) => {
      const match = /^(.*)\/([^/]+\/)\*$/.exec(resource);
      expect(match?.[1], resource).toMatch(bucket);
      return match?.[2];
    });

  it("no ingest function has a wildcard action, nor a wildcard resource where IAM offers a narrower one", () => {
    for (const id of ["IngestData", "IngestInfoImages", "IngestAllsky", "ExpireData", "SweepExpirations"]) {
      for (const statement of functionStatements(ingest, id)) {
        expect(statement.actions.some((action) => action.includes("*")), `${id} ${statement.actions}`).toBe(false);
        // dynamodb:ListStreams has no resource-level permissions: "*" is the only resource it takes.
        if (statement.actions.join() !== "dynamodb:ListStreams") expect(statement.resources, id).not.toContain("*");
      }
    }
  });

  it("the data ingester reads and writes only data/, writes its three tables and sends to the datastreamer", () => {
    const statements = functionStatements(ingest, "IngestData");
    expect(allActions(statements)).toEqual([
      "dynamodb:DeleteItem",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:Query",
      "dynamodb:UpdateItem",
      "events:PutEvents",
      "s3:GetObject",
      "s3:ListBucket",
      "s3:PutObject",
      "secretsmanager:DescribeSecret",
      "secretsmanager:GetSecretValue",
      "sqs:ChangeMessageVisibility",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueUrl",
      "sqs:ReceiveMessage",
      "sqs:SendMessage",
    ]);
    expect(objectsUnder(granting(statements, "s3:GetObject")[0])).toEqual(["data/"]);
    expect(objectsUnder(granting(statements, "s3:PutObject")[0])).toEqual(["data/"]);
    const tableResources = granting(statements, "dynamodb:PutItem").flatMap((s) => s.resources);
    expect(tableResources.filter((r) => !r.endsWith("/index/*")).map((r) => /GetAtt(\w+?)Table[0-9A-F]{8}Arn/.exec(r)?.[1])).toEqual([
      "UploadLog",
      "Expirations",
      "ObjectDeliveries",
      // A refusal is quarantined by the function that refused it.
      "Quarantine",
    ]);
    expect(granting(statements, "sqs:SendMessage").flatMap((s) => s.resources)).toEqual([
      expect.stringMatching(/DatastreamQueue\w+Arn/),
      // the delayed preview checks of FITS files (stacks/previews.ts)
      expect.stringMatching(/^<PreviewsQueue[0-9A-F]{8}\.Arn>$/),
    ]);
    expect(granting(statements, "sqs:ReceiveMessage").flatMap((s) => s.resources)).toEqual([
      `<${queueLogicalId(ingest, "DataQueue")}.Arn>`,
    ]);
  });

  it.each([
    ["IngestInfoImages", "info-images/", "InfoImages"],
    ["IngestAllsky", "allsky/", "Allsky"],
  ])("%s reads and writes (thumbnails) only under %s and never touches the database", (id, prefix, table) => {
    const statements = functionStatements(ingest, id);
    expect(objectsUnder(granting(statements, "s3:GetObject")[0])).toEqual([prefix]);
    expect(objectsUnder(granting(statements, "s3:PutObject")[0])).toEqual([prefix]);
    // On the bucket alone, so a vanished object answers 404 (acknowledged), not 403 (retried).
    expect(granting(statements, "s3:ListBucket").map((s) => s.resources)).toEqual([[expect.stringMatching(bucket)]]);
    expect(granting(statements, "secretsmanager:GetSecretValue")).toEqual([]);
    const tableResources = granting(statements, "dynamodb:PutItem").flatMap((s) => s.resources);
    expect(tableResources.filter((r) => !r.endsWith("/index/*")).map((r) => /GetAtt(\w+?)Table[0-9A-F]{8}Arn/.exec(r)?.[1])).toEqual([
      table,
      "UploadLog",
      "Expirations",
      "ObjectDeliveries",
      // A refusal is quarantined by the function that refused it.
      "Quarantine",
    ]);
  });

  it("the expirer and the sweep delete only under the expiring prefixes, and list only those", () => {
    for (const id of ["ExpireData", "SweepExpirations"]) {
      const statements = functionStatements(ingest, id);
      expect(objectsUnder(granting(statements, "s3:DeleteObject")[0])).toEqual(["data/", "info-images/", "allsky/"]);
      const [list] = granting(statements, "s3:ListBucket");
      expect(list?.resources).toEqual([expect.stringMatching(bucket)]);
      expect(list?.condition).toEqual({ StringLike: { "s3:prefix": ["data/*", "info-images/*", "allsky/*"] } });
      expect(granting(statements, "s3:GetObject")).toEqual([]);
      expect(granting(statements, "s3:PutObject")).toEqual([]);
    }
  });

  it("the sweep scans the tracker for due entries and deletes them; the tracker has no index to query", () => {
    const statements = functionStatements(ingest, "SweepExpirations");
    const [scan] = granting(statements, "dynamodb:Scan");
    expect(scan?.actions).toEqual(["dynamodb:DeleteItem", "dynamodb:Scan"]);
    expect(scan?.resources[0]).toMatch(/ExpirationsTable\w+Arn/);
  });

  it("production's functions read the existing database secret by its name", () => {
    const [secret] = granting(functionStatements(prodIngest, "IngestData"), "secretsmanager:GetSecretValue");
    expect(secret?.resources).toEqual([
      "arn:<AWS::Partition>:secretsmanager:us-east-1:123456789012:secret:data-archive/prod/database-??????",
    ]);
    expect(lambdaFunction(prodIngest, "IngestData")["VpcConfig"]).toBeUndefined();
  });
});

describe("alarms", () => {
  it.each(["DataDeadLetterQueue", "InfoImagesDeadLetterQueue", "AllskyDeadLetterQueue", "ExpirationDeadLetterQueue"])(
    "alarms as soon as %s holds a message",
    (id) => {
      ingest.hasResourceProperties("AWS::CloudWatch::Alarm", {
        MetricName: "ApproximateNumberOfMessagesVisible",
        Namespace: "AWS/SQS",
        Dimensions: [{ Name: "QueueName", Value: { "Fn::GetAtt": [queueLogicalId(ingest, id), "QueueName"] } }],
        Threshold: 0,
        ComparisonOperator: "GreaterThanThreshold",
        AlarmActions: [Match.objectLike({ "Fn::ImportValue": Match.stringLikeRegexp("AlarmTopic") })],
      });
    },
  );

  it.each(["IngestData", "IngestInfoImages", "IngestAllsky", "ExpireData", "SweepExpirations"])(
    "alarms on errors and throttles of %s",
    (id) => {
      const [functionId] = resourceById(ingest, "AWS::Lambda::Function", id);
      for (const metric of ["Errors", "Throttles"]) {
        ingest.hasResourceProperties("AWS::CloudWatch::Alarm", {
          MetricName: metric,
          Namespace: "AWS/Lambda",
          Dimensions: [{ Name: "FunctionName", Value: { Ref: functionId } }],
          Threshold: 0,
          AlarmActions: [Match.objectLike({ "Fn::ImportValue": Match.stringLikeRegexp("AlarmTopic") })],
        });
      }
    },
  );
});
