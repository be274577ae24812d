import type { Template } from "aws-cdk-lib/assertions";
import { Stack } from "aws-cdk-lib/core";
import { beforeAll, describe, expect, it } from "vitest";
import { LATEST_MIGRATION } from "../../packages/core/src/platform/migrate";
import { synthesizeStage, type StackName } from "./synthesize";
import { functionStatements, lambdaFunction, properties, resourceById, resources } from "./templates";

let created: Record<StackName, Template>;
let existing: Record<StackName, Template>;
let stackDependencies: Record<string, string[]>;

beforeAll(async () => {
  const stage = await synthesizeStage("test");
  created = stage.templates;
  stackDependencies = Object.fromEntries(
    stage.app.node.children.flatMap((child) =>
      Stack.isStack(child) ? [[child.stackName, child.dependencies.map((dependency) => dependency.stackName)]] : [],
    ),
  );
  existing = (await synthesizeStage("prod")).templates;
});

describe("a stage with its own database", () => {
  it("runs PostgreSQL on RDS (not Aurora Serverless v1), encrypted, private, in isolated subnets", () => {
    created.Database.resourceCountIs("AWS::RDS::DBCluster", 0);
    created.Database.hasResourceProperties("AWS::RDS::DBInstance", {
      Engine: "postgres",
      DBInstanceClass: "db.t4g.micro",
      StorageEncrypted: true,
      PubliclyAccessible: false,
      DBName: "archive",
    });
    const subnets = Object.values(resources(created.Database, "AWS::EC2::Subnet"));
    expect(subnets).toHaveLength(2);
    for (const subnet of subnets) expect(properties(subnet)["MapPublicIpOnLaunch"]).toBe(false);
    created.Database.resourceCountIs("AWS::EC2::NatGateway", 0);
    created.Database.resourceCountIs("AWS::EC2::InternetGateway", 0);
  });

  it("admits Postgres connections only from the functions' security group", () => {
    const [functionsGroup] = resourceById(created.Database, "AWS::EC2::SecurityGroup", "FunctionsSecurityGroup");
    const [databaseGroup] = resourceById(created.Database, "AWS::EC2::SecurityGroup", "DatabaseSecurityGroup");
    const ingress = Object.values(resources(created.Database, "AWS::EC2::SecurityGroupIngress")).filter(
      (rule) => JSON.stringify(properties(rule)["GroupId"]).includes(databaseGroup),
    );
    expect(ingress.map(properties)).toEqual([
      expect.objectContaining({
        IpProtocol: "tcp",
        FromPort: 5432,
        ToPort: 5432,
        SourceSecurityGroupId: { "Fn::GetAtt": [functionsGroup, "GroupId"] },
      }),
    ]);
  });

  it("reaches S3, DynamoDB, SQS and Secrets Manager through VPC endpoints instead of a NAT gateway", () => {
    const services = Object.values(resources(created.Database, "AWS::EC2::VPCEndpoint")).map((endpoint) =>
      JSON.stringify(properties(endpoint)["ServiceName"]),
    );
    for (const service of ["s3", "dynamodb", "sqs", "secretsmanager"]) {
      expect(services.some((name) => name.includes(`.${service}`)), service).toBe(true);
    }
  });

  it("is destroyed with a disposable stage", () => {
    created.Database.hasResource("AWS::RDS::DBInstance", { DeletionPolicy: "Delete" });
    created.Database.hasResourceProperties("AWS::RDS::DBInstance", { DeletionProtection: false });
  });
});

describe("migrations on deploy", () => {
  it("run the migrate function until the schema reaches the newest migration, once the database and its secret's endpoint exist", () => {
    const [migrate] = resourceById(created.Database, "AWS::Lambda::Function", "Migrate");
    const [database] = resourceById(created.Database, "AWS::RDS::DBInstance", "Database");
    const [endpoint] = resourceById(created.Database, "AWS::EC2::VPCEndpoint", "VpcSecretsManagerEndpoint");
    const [framework, onEvent] = resourceById(created.Database, "AWS::Lambda::Function", "MigrationsProviderframeworkonEvent");
    const schemas = Object.values(resources(created.Database, "Custom::ArchiveSchema"));
    expect(schemas).toHaveLength(1);
    const [schema = { Type: "" }] = schemas;
    // An hour: CloudFormation's limit for a custom resource.
    expect(properties(schema)).toEqual({
      ServiceToken: { "Fn::GetAtt": [framework, "Arn"] },
      ServiceTimeout: "3600",
      Target: LATEST_MIGRATION,
    });
    // The provider framework invokes it as onEvent, then as isComplete until it answers IsComplete.
    expect(properties(onEvent)["Environment"]).toMatchObject({
      Variables: {
        USER_ON_EVENT_FUNCTION_ARN: { "Fn::GetAtt": [migrate, "Arn"] },
        USER_IS_COMPLETE_FUNCTION_ARN: { "Fn::GetAtt": [migrate, "Arn"] },
      },
    });
    expect(schema["DependsOn"]).toEqual(expect.arrayContaining([database, endpoint]));
  });

  it("give every invocation Lambda's longest time, 15 minutes: a migration longer than that takes several", () => {
    expect(lambdaFunction(created.Database, "Migrate")).toMatchObject({ Timeout: 900 });
  });

  it("finish before the stacks holding the new functions deploy", () => {
    expect(stackDependencies["test-data-archive-Ingest"]).toContain("test-data-archive-Database");
    expect(stackDependencies["test-data-archive-Api"]).toContain("test-data-archive-Database");
  });

  it("the migrate function may only read the database secret", () => {
    expect(functionStatements(created.Database, "Migrate").map((s) => s.actions)).toEqual([
      ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"],
    ]);
    expect(lambdaFunction(created.Database, "Migrate")).toMatchObject({ Runtime: "nodejs22.x", Architectures: ["arm64"] });
  });
});

describe("production, which keeps its existing database", () => {
  it("creates no instance and no VPC, and points the functions at the existing secret", () => {
    existing.Database.resourceCountIs("AWS::RDS::DBInstance", 0);
    existing.Database.resourceCountIs("AWS::EC2::VPC", 0);
    const variables = lambdaFunction(existing.Database, "Migrate")["Environment"];
    expect(JSON.stringify(variables)).toContain("secret:data-archive/prod/database");
  });
});

describe("alarm topic", () => {
  it("is an SNS topic every alarm of the stage notifies", () => {
    created.Monitoring.resourceCountIs("AWS::SNS::Topic", 1);
    expect(Object.keys(created.Monitoring.findOutputs("AlarmTopicArn"))).toEqual(["AlarmTopicArn"]);
  });
});
