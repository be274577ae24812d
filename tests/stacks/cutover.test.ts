import type { Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { tables } from "../../packages/core/src/platform/tables";
import {
  PRODUCTION_NOTICE_QUEUE,
  RUNNING_SYSTEM_TABLES,
  SHADOW_SCHEMA,
  stageConfig,
} from "../../stacks/stageConfig";
import { stackFunctions, synthesizeStage, type StackName } from "./synthesize";
import { functionStatements, granting, lambdaFunction, properties, render, resources } from "./templates";

/** Production as configured (shadow mode), production after the switch, and the stages that are not production. */
let shadow: Record<StackName, Template>;
let switched: Record<StackName, Template>;
const others: Record<string, Record<StackName, Template>> = {};
const OTHER_STAGES = ["dev", "test", "alice"];

beforeAll(async () => {
  shadow = (await synthesizeStage("prod")).templates;
  switched = (await synthesizeStage("prod", { config: { ...stageConfig("prod"), shadow: false } })).templates;
  for (const stage of OTHER_STAGES) others[stage] = (await synthesizeStage(stage)).templates;
});

const stackNames = Object.keys(stackFunctions) as StackName[];

const archiveFunctions: [StackName, string][] = [
  ["Ingest", "IngestData"],
  ["Ingest", "IngestInfoImages"],
  ["Ingest", "IngestAllsky"],
  ["Ingest", "ExpireData"],
  ["Ingest", "SweepExpirations"],
  ["Database", "Migrate"],
  ["Api", "ApiUpload"],
  ["Api", "ApiReads"],
  ["Api", "ApiDownload"],
  ["Api", "Authorizer"],
];

function variables(templates: Record<StackName, Template>, stack: StackName, id: string): Record<string, unknown> {
  return z.object({ Variables: z.record(z.unknown()) }).parse(lambdaFunction(templates[stack], id)["Environment"]).Variables;
}

/** A table name as a function sees it: literal, or the created table's name behind Storage's export. */
function tableName(templates: Record<StackName, Template>, value: unknown): string {
  if (typeof value === "string") return value;
  const exported = z.object({ "Fn::ImportValue": z.string() }).parse(value)["Fn::ImportValue"];
  const exportedRef = z.object({ Value: z.object({ Ref: z.string() }), Export: z.object({ Name: z.literal(exported) }) });
  const [output] = Object.values(templates.Storage.findOutputs("*")).flatMap((candidate) => {
    const parsed = exportedRef.safeParse(candidate);
    return parsed.success ? [parsed.data] : [];
  });
  const table = output && resources(templates.Storage, "AWS::DynamoDB::Table")[output.Value.Ref];
  if (!table) throw new Error(`${exported} is not a table of the Storage stack`);
  return String(properties(table)["TableName"]);
}

const liveNames = RUNNING_SYSTEM_TABLES.map((name) => tables[name].baseName);

describe("production beside the running system: its bucket and three tables by name, never created", () => {
  it.each([
    ["in shadow mode", () => shadow],
    ["after the switch", () => switched],
  ])("%s creates no bucket, no bucket policy and none of recent-uploads-log, info-images, data-expiration-tracker", (_mode, of) => {
    const templates = of();
    for (const stack of stackNames) {
      templates[stack].resourceCountIs("AWS::S3::Bucket", 0);
      templates[stack].resourceCountIs("AWS::S3::BucketPolicy", 0);
      const created = Object.values(resources(templates[stack], "AWS::DynamoDB::Table")).map((t) => properties(t)["TableName"]);
      for (const name of liveNames) expect(created, `${stack} ${name}`).not.toContain(name);
    }
    templates.Storage.hasOutput("BucketName", { Value: "photonranch-001" });
  });

  it("after the switch, every function uses the three tables and the bucket by their names", () => {
    for (const [stack, id] of archiveFunctions) {
      const env = variables(switched, stack, id);
      expect(env, id).toMatchObject({
        BUCKET_NAME: "photonranch-001",
        UPLOAD_LOG_TABLE: "recent-uploads-log",
        INFO_IMAGES_TABLE: "info-images",
        EXPIRATION_TABLE: "data-expiration-tracker",
      });
    }
  });

  it("after the switch, the expirer reads the existing tracker's stream, found by a read-only DescribeTable at deploy", () => {
    const [descriptionId, description] = Object.entries(resources(switched.Storage, "Custom::AWS"))[0] ?? [];
    expect(description && properties(description)["Update"]).toContain('"action":"DescribeTable"');
    const statements = Object.values(resources(switched.Storage, "AWS::IAM::Policy")).flatMap(
      (policy) => z.object({ Statement: z.array(z.object({ Action: z.unknown(), Resource: z.unknown() })) }).parse(properties(policy)["PolicyDocument"]).Statement,
    );
    const onTables = statements.filter((statement) => JSON.stringify(statement.Action).includes("dynamodb:"));
    expect(onTables.map((statement) => [statement.Action, render(statement.Resource)])).toEqual([
      ["dynamodb:DescribeTable", "arn:<AWS::Partition>:dynamodb:us-east-1:123456789012:table/data-expiration-tracker"],
    ]);
    const [mapping] = Object.values(resources(switched.Ingest, "AWS::Lambda::EventSourceMapping")).filter((m) =>
      JSON.stringify(properties(m)["FunctionName"]).includes("ExpireData"),
    );
    expect(mapping && properties(mapping)).toMatchObject({ Enabled: true });
    expect(render(mapping && properties(mapping)["EventSourceArn"])).toContain(`${descriptionId}TableLatestStreamArn`);
  });
});

describe("notices go to the queue each stage's readers use", () => {
  it("production's functions are told the production datastreamer's queue, and may send to it once switched", () => {
    const queueUrl = render(variables(switched, "Ingest", "IngestData")["DATASTREAM_QUEUE_URL"]);
    expect(queueUrl).toMatch(new RegExp(`/123456789012/${PRODUCTION_NOTICE_QUEUE}$`));
    expect(granting(functionStatements(switched.Ingest, "IngestData"), "sqs:SendMessage").flatMap((s) => s.resources)).toEqual([
      `arn:<AWS::Partition>:sqs:us-east-1:123456789012:${PRODUCTION_NOTICE_QUEUE}`,
      // once switched, previews from FITS are made (stacks/previews.ts)
      expect.stringMatching(/^<PreviewsQueue[0-9A-F]{8}\.Arn>$/),
    ]);
  });

  it.each(OTHER_STAGES)("%s names the production notice queue nowhere in its templates", (stage) => {
    for (const stack of stackNames) {
      expect(JSON.stringify(others[stage]?.[stack].toJSON()), `${stage} ${stack}`).not.toContain(PRODUCTION_NOTICE_QUEUE);
    }
  });

  it.each(OTHER_STAGES)("%s sends its notices to a queue of its own", (stage) => {
    const templates = others[stage];
    if (!templates) throw new Error(`${stage} was not synthesized`);
    templates.Storage.hasResourceProperties("AWS::SQS::Queue", { QueueName: `${stage}-data-archive-notices` });
    expect(render(variables(templates, "Ingest", "IngestData")["DATASTREAM_QUEUE_URL"])).toMatch(/DatastreamQueue/);
  });
});

describe("shadow mode: every real event processed, nothing live written, no notice sent", () => {
  it.each(archiveFunctions)("%s/%s writes the shadow tables and the shadow schema, with notices off", (stack, id) => {
    const env = variables(shadow, stack, id);
    for (const name of RUNNING_SYSTEM_TABLES) {
      const configKey = tables[name].configKey;
      expect(tableName(shadow, env[configKey]), configKey).toBe(`prod-data-archive-shadow-${tables[name].baseName}`);
    }
    expect(env["DATABASE_SCHEMA"]).toBe(SHADOW_SCHEMA);
    expect(SHADOW_SCHEMA).not.toBe("public");
    expect(env["SEND_NOTICES"]).toBe("false");
  });

  it.each(archiveFunctions)("%s/%s after the switch writes the live tables and the public schema, with notices on", (stack, id) => {
    const env = variables(switched, stack, id);
    for (const name of RUNNING_SYSTEM_TABLES) expect(env[tables[name].configKey]).toBe(tables[name].baseName);
    expect(env["DATABASE_SCHEMA"]).toBe("public");
    expect(env["SEND_NOTICES"]).toBe("true");
  });

  it.each(archiveFunctions)("%s/%s may touch none of the running system's tables in shadow mode", (stack, id) => {
    const touched = functionStatements(shadow[stack], id).flatMap((statement) => statement.resources);
    for (const name of liveNames) expect(touched.filter((resource) => resource.includes(`:table/${name}`)), name).toEqual([]);
  });

  it("no function may send a notice in shadow mode", () => {
    for (const [stack, id] of archiveFunctions) {
      const sends = granting(functionStatements(shadow[stack], id), "sqs:SendMessage").flatMap((s) => s.resources);
      expect(sends.filter((resource) => !resource.includes("DeadLetterQueue")), id).toEqual([]);
    }
  });

  it("nothing expires in shadow mode: the expirer's stream and the sweep are off, and neither may delete an object", () => {
    for (const mapping of Object.values(resources(shadow.Ingest, "AWS::Lambda::EventSourceMapping"))) {
      if (JSON.stringify(properties(mapping)["FunctionName"]).includes("ExpireData")) {
        expect(properties(mapping)["Enabled"]).toBe(false);
      }
    }
    shadow.Ingest.hasResourceProperties("AWS::Events::Rule", { ScheduleExpression: "rate(1 minute)", State: "DISABLED" });
    for (const id of ["ExpireData", "SweepExpirations"]) {
      expect(granting(functionStatements(shadow.Ingest, id), "s3:DeleteObject"), id).toEqual([]);
    }
  });

});
