import {
  GatewayVpcEndpointAwsService,
  InstanceClass,
  InstanceSize,
  InstanceType,
  InterfaceVpcEndpointAwsService,
  Port,
  SecurityGroup,
  SubnetType,
  Vpc,
} from "aws-cdk-lib/aws-ec2";
import {
  Credentials,
  DatabaseInstance,
  DatabaseInstanceEngine,
  PostgresEngineVersion,
} from "aws-cdk-lib/aws-rds";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import { Secret, type ISecret } from "aws-cdk-lib/aws-secretsmanager";
import { CustomResource, Duration, RemovalPolicy } from "aws-cdk-lib/core";
import { Provider } from "aws-cdk-lib/custom-resources";
import type { IDependable } from "constructs";
import { use, type StackContext } from "sst/constructs";
import { LATEST_MIGRATION } from "../packages/core/src/platform/migrate";
import { archiveFunction, type DatabaseAccess } from "./functions";
import { alarmOnFunction } from "./alarms";
import { Monitoring } from "./Monitoring";
import { Storage } from "./Storage";
import type { DatabaseSetting } from "./stageConfig";

/** CloudFormation's limit for a custom resource; a migration still running then continues on the next deploy. */
const MIGRATION_TIMEOUT = Duration.hours(1);

const instanceSizes = {
  "t4g.micro": InstanceSize.MICRO,
  "t4g.small": InstanceSize.SMALL,
  "t4g.medium": InstanceSize.MEDIUM,
} as const;

interface StageDatabase {
  access: DatabaseAccess;
  /** Only when this stage owns the instance. */
  instance?: DatabaseInstance;
  /** What must exist before anything connects: the instance and the endpoint that serves its secret. */
  readiness: IDependable[];
}

function existingDatabase({ stack }: StackContext, secret: string): StageDatabase {
  const imported: ISecret = secret.startsWith("arn:")
    ? Secret.fromSecretCompleteArn(stack, "DatabaseSecret", secret)
    : Secret.fromSecretNameV2(stack, "DatabaseSecret", secret);
  // The existing instance is reached as the replaced functions reached it: outside any VPC.
  return { access: { secret: imported }, readiness: [] };
}

function newDatabase(
  { stack, app }: StackContext,
  setting: Extract<DatabaseSetting, { kind: "new" }>,
  retainData: boolean,
): StageDatabase {
  // No NAT: isolated subnets reach S3 and DynamoDB through gateway endpoints, SQS and Secrets Manager through interface ones.
  const vpc = new Vpc(stack, "Vpc", {
    availabilityZones: setting.availabilityZones,
    natGateways: 0,
    subnetConfiguration: [{ name: "isolated", subnetType: SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
    gatewayEndpoints: {
      S3: { service: GatewayVpcEndpointAwsService.S3 },
      DynamoDB: { service: GatewayVpcEndpointAwsService.DYNAMODB },
    },
  });
  const subnets = { subnetType: SubnetType.PRIVATE_ISOLATED };
  const functionsGroup = new SecurityGroup(stack, "FunctionsSecurityGroup", {
    vpc,
    description: "Lambda functions that use the archive database",
  });
  const endpointsGroup = new SecurityGroup(stack, "EndpointsSecurityGroup", {
    vpc,
    description: "Interface endpoints the functions call",
    allowAllOutbound: false,
  });
  endpointsGroup.addIngressRule(functionsGroup, Port.tcp(443), "HTTPS from the archive functions");
  vpc.addInterfaceEndpoint("SqsEndpoint", {
    service: InterfaceVpcEndpointAwsService.SQS,
    subnets,
    securityGroups: [endpointsGroup],
  });
  const secretsEndpoint = vpc.addInterfaceEndpoint("SecretsManagerEndpoint", {
    service: InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
    subnets,
    securityGroups: [endpointsGroup],
  });

  const databaseGroup = new SecurityGroup(stack, "DatabaseSecurityGroup", {
    vpc,
    description: "The archive Postgres instance",
    allowAllOutbound: false,
  });
  databaseGroup.addIngressRule(functionsGroup, Port.tcp(5432), "Postgres from the archive functions");

  const instance = new DatabaseInstance(stack, "Database", {
    engine: DatabaseInstanceEngine.postgres({ version: PostgresEngineVersion.VER_16 }),
    instanceType: InstanceType.of(InstanceClass.T4G, instanceSizes[setting.instanceClass]),
    vpc,
    vpcSubnets: subnets,
    securityGroups: [databaseGroup],
    credentials: Credentials.fromGeneratedSecret("archive", { secretName: app.logicalPrefixedName("database") }),
    databaseName: "archive",
    allocatedStorage: setting.allocatedStorageGiB,
    maxAllocatedStorage: setting.maxAllocatedStorageGiB,
    multiAz: setting.multiAz,
    storageEncrypted: true,
    publiclyAccessible: false,
    backupRetention: Duration.days(retainData ? 14 : 1),
    deletionProtection: retainData,
    removalPolicy: retainData ? RemovalPolicy.SNAPSHOT : RemovalPolicy.DESTROY,
  });
  const secret = instance.secret;
  if (!secret) throw new Error("the generated database credentials have no secret");
  return {
    access: { secret, network: { vpc, subnets, securityGroup: functionsGroup } },
    instance,
    readiness: [instance, secretsEndpoint],
  };
}

/** Postgres for the stage, and the migrations that bring its schema up to date on every deploy. */
export function Database(ctx: StackContext) {
  const { stack } = ctx;
  const { environment, config } = use(Storage);
  const { alarmTopic } = use(Monitoring);
  const setting = config.database;
  const { access: database, instance, readiness } =
    setting.kind === "new" ? newDatabase(ctx, setting, config.retainData) : existingDatabase(ctx, setting.secret);

  // At most 15 minutes per invocation; the provider invokes it again until the schema reaches the target.
  const migrate = archiveFunction(stack, "Migrate", {
    handler: "migrate",
    memorySize: 512,
    timeoutSeconds: 900,
    environment,
    statements: [],
    database,
    connects: true,
    retainLogs: config.retainData,
  });
  const provider = new Provider(stack, "MigrationsProvider", {
    onEventHandler: migrate,
    isCompleteHandler: migrate,
    queryInterval: Duration.seconds(10),
    totalTimeout: MIGRATION_TIMEOUT,
    logGroup: new LogGroup(stack, "MigrationsProviderLogs", {
      retention: RetentionDays.ONE_MONTH,
      removalPolicy: config.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    }),
  });
  // Runs when the newest migration changes (and on create): the stacks with the new functions wait for it. A
  // rollback asks for the previous target, which is already reached, so it changes nothing.
  const migrations = new CustomResource(stack, "Migrations", {
    serviceToken: provider.serviceToken,
    resourceType: "Custom::ArchiveSchema",
    properties: { Target: LATEST_MIGRATION },
    serviceTimeout: MIGRATION_TIMEOUT,
  });
  for (const dependency of readiness) migrations.node.addDependency(dependency);
  alarmOnFunction(stack, "Migrate", migrate, alarmTopic);

  stack.addOutputs({
    DatabaseSecretArn: database.secret.secretArn,
    ...(instance ? { DatabaseEndpoint: instance.dbInstanceEndpointAddress } : {}),
  });
  return { database, migrations };
}
