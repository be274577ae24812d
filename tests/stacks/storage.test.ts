import { Match, type Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { tables, type TableName } from "../../packages/core/src/platform/tables";
import { RUNNING_SYSTEM_TABLES } from "../../stacks/stageConfig";
import { synthesizeStage } from "./synthesize";
import { properties, render, resources, type Resource } from "./templates";

let created: Template;
let imported: Template;

beforeAll(async () => {
  created = (await synthesizeStage("test")).templates.Storage;
  imported = (await synthesizeStage("prod")).templates.Storage;
});

/** The table resource named `name`, if the template creates one. */
function tableNamed(template: Template, name: string): Resource | undefined {
  const [table] = Object.values(resources(template, "AWS::DynamoDB::Table")).filter(
    (resource) => properties(resource)["TableName"] === name,
  );
  return table;
}

describe("a stage with its own bucket", () => {
  it("blocks public access, encrypts at rest and enforces object ownership", () => {
    created.resourceCountIs("AWS::S3::Bucket", 1);
    created.hasResourceProperties("AWS::S3::Bucket", {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }],
      },
      OwnershipControls: { Rules: [{ ObjectOwnership: "BucketOwnerEnforced" }] },
    });
  });

  it("denies every request that does not use TLS", () => {
    created.hasResourceProperties("AWS::S3::BucketPolicy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: "Deny",
            Action: "s3:*",
            Principal: { AWS: "*" },
            Condition: { Bool: { "aws:SecureTransport": "false" } },
          }),
        ]),
      },
    });
  });

  it("moves data/ to infrequent access after 30 days, expires info-images/ and downloads/ after 2, aborts stale multipart uploads", () => {
    created.hasResourceProperties("AWS::S3::Bucket", {
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({
            Prefix: "data/",
            Status: "Enabled",
            Transitions: [{ StorageClass: "STANDARD_IA", TransitionInDays: 30 }],
          }),
          Match.objectLike({ Prefix: "info-images/", Status: "Enabled", ExpirationInDays: 2 }),
          Match.objectLike({ Prefix: "downloads/", Status: "Enabled", ExpirationInDays: 2 }),
          Match.objectLike({ Status: "Enabled", AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }),
        ]),
      },
    });
  });

  it("lets browsers POST uploads and GET presigned objects across origins", () => {
    created.hasResourceProperties("AWS::S3::Bucket", {
      CorsConfiguration: {
        CorsRules: [Match.objectLike({ AllowedMethods: Match.arrayWith(["POST", "GET"]), AllowedOrigins: ["*"] })],
      },
    });
  });

  it("is deleted with its objects when the stage is removed", () => {
    created.hasResource("AWS::S3::Bucket", { DeletionPolicy: "Delete", UpdateReplacePolicy: "Delete" });
    created.resourceCountIs("Custom::S3AutoDeleteObjects", 1);
    for (const table of Object.values(resources(created, "AWS::DynamoDB::Table"))) {
      expect(table).toMatchObject({ DeletionPolicy: "Delete" });
    }
  });

  it("creates a notice queue of its own, named for the stage alone", () => {
    created.hasResourceProperties("AWS::SQS::Queue", { QueueName: "test-data-archive-notices" });
    expect(JSON.stringify(created.toJSON())).not.toContain("datastreamIncomingQueue");
  });
});

describe("production, which keeps its existing bucket", () => {
  it("creates no bucket and no bucket policy: photonranch-001 is referenced by name", () => {
    imported.resourceCountIs("AWS::S3::Bucket", 0);
    imported.resourceCountIs("AWS::S3::BucketPolicy", 0);
    imported.hasOutput("BucketName", { Value: "photonranch-001" });
  });

  it("retains the archive's own tables, with point-in-time recovery", () => {
    const own = (Object.keys(tables) as TableName[]).filter((name) => !(RUNNING_SYSTEM_TABLES as readonly string[]).includes(name));
    for (const name of own) {
      expect(tableNamed(imported, `prod-data-archive-${tables[name].baseName}`), name).toMatchObject({
        DeletionPolicy: "Retain",
        Properties: { PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } },
      });
    }
  });

  it("keeps its shadow tables disposable: a switch removes them, a switch back creates them empty", () => {
    for (const name of RUNNING_SYSTEM_TABLES) {
      expect(tableNamed(imported, `prod-data-archive-shadow-${tables[name].baseName}`), name).toMatchObject({
        DeletionPolicy: "Delete",
        Properties: { PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: false } },
      });
    }
  });

  it("writes to the production datastreamer's existing queue instead of creating one", () => {
    imported.resourceCountIs("AWS::SQS::Queue", 0);
    const url = render(imported.findOutputs("DatastreamQueueUrl")["DatastreamQueueUrl"]?.["Value"]);
    expect(url).toMatch(/\/123456789012\/datastreamIncomingQueue-dev$/);
  });
});

/** Every table a stage creates, its own and the shadow copies of the running system's, as tables.ts defines it. */
const createdTables = [
  ...Object.values(tables).map((definition) => ["test", `test-data-archive-${definition.baseName}`, definition] as const),
  ...RUNNING_SYSTEM_TABLES.map((name) => ["prod", `prod-data-archive-shadow-${tables[name].baseName}`, tables[name]] as const),
];

describe("tables built from packages/core/src/tables.ts", () => {
  it.each(createdTables)("%s: %s has the key schema, TTL, stream and indexes of its definition", (stage, name, definition) => {
    const table = tableNamed(stage === "test" ? created : imported, name);
    expect(table, name).toBeDefined();
    const props = table ? properties(table) : {};
    expect(props["BillingMode"]).toBe("PAY_PER_REQUEST");
    expect(props["KeySchema"]).toEqual([
      { AttributeName: definition.partitionKey.name, KeyType: "HASH" },
      ...("sortKey" in definition ? [{ AttributeName: definition.sortKey.name, KeyType: "RANGE" }] : []),
    ]);
    expect(props["TimeToLiveSpecification"]).toEqual(
      "ttlAttribute" in definition ? { AttributeName: definition.ttlAttribute, Enabled: true } : undefined,
    );
    expect(props["StreamSpecification"]).toEqual(
      "stream" in definition ? { StreamViewType: definition.stream } : undefined,
    );
    const indexes = (z.array(z.object({ IndexName: z.string() })).optional().parse(props["GlobalSecondaryIndexes"]) ?? []).map(
      (index) => index.IndexName,
    );
    expect(indexes).toEqual(("globalIndexes" in definition ? definition.globalIndexes : []).map((i) => i.indexName));
  });

  it("streams the expiration tracker as the running system's does, with the old images the expirer reads after TTL deletion", () => {
    expect(tables.expirations.stream).toMatch(/OLD_IMAGE/);
    created.hasResourceProperties("AWS::DynamoDB::Table", {
      TableName: "test-data-archive-data-expiration-tracker",
      StreamSpecification: { StreamViewType: tables.expirations.stream },
      TimeToLiveSpecification: { AttributeName: tables.expirations.ttlAttribute, Enabled: true },
    });
  });
});
