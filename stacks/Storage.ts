import { AttributeType, BillingMode, StreamViewType, Table, type ITable } from "aws-cdk-lib/aws-dynamodb";
import { EventBus } from "aws-cdk-lib/aws-events";
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  HttpMethods,
  ObjectOwnership,
  StorageClass,
  type IBucket,
} from "aws-cdk-lib/aws-s3";
import { Queue, QueueEncryption, type IQueue } from "aws-cdk-lib/aws-sqs";
import { Duration, RemovalPolicy } from "aws-cdk-lib/core";
import { AwsCustomResource, AwsCustomResourcePolicy, PhysicalResourceId } from "aws-cdk-lib/custom-resources";
import type { StackContext } from "sst/constructs";
import { RETENTION } from "../packages/core/src/deliveries/retention";
import type { ArchiveEnvironment } from "../packages/core/src/platform/config";
import { tables, type KeyAttribute, type TableIndex, type TableName } from "../packages/core/src/platform/tables";
import {
  LIVE_SCHEMA,
  RUNNING_SYSTEM_TABLES,
  SHADOW_SCHEMA,
  stageConfigOf,
  type RunningSystemTable,
  type StageConfig,
} from "./stageConfig";

export type ArchiveTables = Record<TableName, ITable>;

const attribute = (key: KeyAttribute) => ({
  name: key.name,
  type: key.type === "S" ? AttributeType.STRING : AttributeType.NUMBER,
});

function archiveBucket({ stack }: StackContext, config: StageConfig, removalPolicy: RemovalPolicy): IBucket {
  if (config.bucket.kind === "existing") {
    // Production's bucket predates this app: its lifecycle rules and policy are managed where they always were.
    return Bucket.fromBucketName(stack, "ArchiveBucket", config.bucket.name);
  }
  return new Bucket(stack, "ArchiveBucket", {
    blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
    objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
    encryption: BucketEncryption.S3_MANAGED,
    enforceSSL: true,
    removalPolicy,
    autoDeleteObjects: removalPolicy === RemovalPolicy.DESTROY,
    cors: [
      {
        // Sites and the browser upload with presigned POST and read with presigned GET.
        allowedMethods: [HttpMethods.POST, HttpMethods.PUT, HttpMethods.GET, HttpMethods.HEAD],
        allowedOrigins: config.corsOrigins,
        allowedHeaders: ["*"],
        exposedHeaders: ["ETag"],
        maxAge: 3000,
      },
    ],
    lifecycleRules: [
      {
        id: "data-to-infrequent-access",
        prefix: "data/",
        transitions: [{ storageClass: StorageClass.INFREQUENT_ACCESS, transitionAfter: Duration.days(30) }],
      },
      // A safety net behind the expiration tracker: no info image outlives its channel's lifetime by more than a day.
      { id: "info-images-expire", prefix: "info-images/", expiration: Duration.days(Math.ceil(config.infoImageTtlHours / 24)) },
      { id: "downloads-expire", prefix: "downloads/", expiration: Duration.days(RETENTION.downloadsDays) },
      // Sites' test uploads are stored only; nothing reads them after a few days.
      { id: "test-expire", prefix: "test/", expiration: Duration.days(RETENTION.testUploadsDays) },
      { id: "abort-incomplete-uploads", abortIncompleteMultipartUploadAfter: Duration.days(1) },
    ],
  });
}

const tableId = (name: TableName) => `${name[0]?.toUpperCase()}${name.slice(1)}Table`;

interface CreatedTable {
  id: string;
  /** The name after the app's and stage's prefix. */
  baseName: string;
  pointInTimeRecovery: boolean;
  removalPolicy: RemovalPolicy;
}

/** A table of core's tables.ts, created in this stack: its keys, TTL, stream and indexes. */
function createTable({ stack, app }: StackContext, name: TableName, options: CreatedTable): Table {
  const definition = tables[name];
  const table = new Table(stack, options.id, {
    tableName: app.logicalPrefixedName(options.baseName),
    partitionKey: attribute(definition.partitionKey),
    ...("sortKey" in definition ? { sortKey: attribute(definition.sortKey) } : {}),
    ...("ttlAttribute" in definition ? { timeToLiveAttribute: definition.ttlAttribute } : {}),
    ...("stream" in definition ? { stream: StreamViewType[definition.stream] } : {}),
    billingMode: BillingMode.PAY_PER_REQUEST,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: options.pointInTimeRecovery },
    removalPolicy: options.removalPolicy,
  });
  const indexes: readonly TableIndex[] = "globalIndexes" in definition ? definition.globalIndexes : [];
  for (const index of indexes) {
    table.addGlobalSecondaryIndex({
      indexName: index.indexName,
      partitionKey: attribute(index.partitionKey),
      ...(index.sortKey ? { sortKey: attribute(index.sortKey) } : {}),
    });
  }
  return table;
}

/**
 * One of the running system's tables, by the name it has always had: referenced, never created, altered or deleted.
 * A stream's ARN ends in a label only the account knows, so it is read at deploy time (DescribeTable, read-only).
 */
function runningSystemTable({ stack }: StackContext, name: RunningSystemTable): ITable {
  const tableName = tables[name].baseName;
  if (!("stream" in tables[name])) return Table.fromTableName(stack, tableId(name), tableName);
  const description = new AwsCustomResource(stack, `${tableId(name)}Description`, {
    onUpdate: {
      service: "DynamoDB",
      action: "DescribeTable",
      parameters: { TableName: tableName },
      physicalResourceId: PhysicalResourceId.of(`${tableName}-description`),
      outputPaths: ["Table.LatestStreamArn"],
    },
    policy: AwsCustomResourcePolicy.fromSdkCalls({
      resources: [stack.formatArn({ service: "dynamodb", resource: "table", resourceName: tableName })],
    }),
    installLatestAwsSdk: false,
  });
  return Table.fromTableAttributes(stack, tableId(name), {
    tableName,
    tableStreamArn: description.getResponseField("Table.LatestStreamArn"),
  });
}

const isRunningSystemTable = (name: TableName): name is RunningSystemTable =>
  (RUNNING_SYSTEM_TABLES as readonly TableName[]).includes(name);

/**
 * The tables the functions use. The archive's own are created (retained with the stage's data). The running
 * system's are the existing ones in production and created elsewhere; in shadow mode the functions use shadow copies
 * instead, which are disposable (switching to live removes them, switching back starts them empty), while the live
 * ones stay exactly as they are.
 */
function archiveTables(ctx: StackContext, config: StageConfig, removalPolicy: RemovalPolicy): ArchiveTables {
  const own = (name: TableName) =>
    createTable(ctx, name, {
      id: tableId(name),
      baseName: tables[name].baseName,
      pointInTimeRecovery: config.pointInTimeRecovery,
      removalPolicy,
    });
  const shadow = (name: TableName) =>
    createTable(ctx, name, {
      id: `Shadow${tableId(name)}`,
      baseName: `shadow-${tables[name].baseName}`,
      pointInTimeRecovery: false,
      removalPolicy: RemovalPolicy.DESTROY,
    });
  const build = (name: TableName): ITable => {
    if (!isRunningSystemTable(name)) return own(name);
    if (config.shadow) {
      // A stage that created its live tables keeps them, data and all, for the switch back.
      if (config.runningSystemTables.kind === "new") own(name);
      return shadow(name);
    }
    return config.runningSystemTables.kind === "existing" ? runningSystemTable(ctx, name) : own(name);
  };
  return Object.fromEntries((Object.keys(tables) as TableName[]).map((name) => [name, build(name)])) as ArchiveTables;
}

function datastreamQueue({ stack, app }: StackContext, config: StageConfig): IQueue {
  const setting = config.datastreamQueue;
  if (setting.kind === "existing" && "arn" in setting) return Queue.fromQueueArn(stack, "DatastreamQueue", setting.arn);
  if (setting.kind === "existing") {
    return Queue.fromQueueArn(stack, "DatastreamQueue", stack.formatArn({ service: "sqs", resource: setting.name }));
  }
  // A stage no datastreamer reads: its notices wait here, visible in the console, named for the stage alone.
  return new Queue(stack, "DatastreamQueue", {
    queueName: app.logicalPrefixedName("notices"),
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(4),
  });
}

/**
 * The archive's data: the bucket, the DynamoDB tables, the datastreamer queue the archive writes to, and the settings
 * every function gets (which tables, which Postgres schema, whether notices are sent).
 */
export function Storage(ctx: StackContext) {
  const { stack, app } = ctx;
  const config = stageConfigOf(app);
  const removalPolicy = config.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
  const bucket = archiveBucket(ctx, config, removalPolicy);
  const archive = archiveTables(ctx, config, removalPolicy);
  const datastream = datastreamQueue(ctx, config);
  // Downstream pipelines subscribe to the archive's events (the exposure-archived event) with rules on this bus.
  const eventBus = new EventBus(stack, "ArchiveEvents", { eventBusName: app.logicalPrefixedName("events") });

  const environment: ArchiveEnvironment = {
    STAGE: app.stage,
    BUCKET_NAME: bucket.bucketName,
    ...Object.fromEntries((Object.keys(tables) as TableName[]).map((name) => [tables[name].configKey, archive[name].tableName])),
    DATABASE_SCHEMA: config.shadow ? SHADOW_SCHEMA : LIVE_SCHEMA,
    DATASTREAM_QUEUE_URL: datastream.queueUrl,
    SEND_NOTICES: String(!config.shadow),
    THUMBNAIL_HEIGHT: String(config.thumbnailHeight),
    UPLOAD_LOG_TTL_HOURS: String(config.uploadLogTtlHours),
    INFO_IMAGE_TTL_HOURS: String(config.infoImageTtlHours),
    ALLSKY_RETENTION_DAYS: String(config.allskyRetentionDays),
    MAX_UPLOAD_BYTES: String(config.maxUploadBytes),
    ALLOW_ANONYMOUS_UPLOADS: String(config.allowAnonymousUploads),
    EVENT_BUS_NAME: eventBus.eventBusName,
  };

  stack.addOutputs({
    BucketName: bucket.bucketName,
    DatastreamQueueUrl: datastream.queueUrl,
    EventBusName: eventBus.eventBusName,
    ShadowMode: String(config.shadow),
    DatabaseSchema: config.shadow ? SHADOW_SCHEMA : LIVE_SCHEMA,
    ...Object.fromEntries(Object.entries(archive).map(([name, table]) => [`${name}TableName`, table.tableName])),
  });
  return { bucket, tables: archive, datastreamQueue: datastream, eventBus, environment, config };
}
