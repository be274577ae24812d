import { AttributeType, BillingMode, StreamViewType, Table } from "aws-cdk-lib/aws-dynamodb";
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
import type { StackContext } from "sst/constructs";
import { RETENTION } from "../packages/core/src/deliveries/retention";
import type { ArchiveEnvironment } from "../packages/core/src/platform/config";
import { tables, type KeyAttribute, type TableName } from "../packages/core/src/platform/tables";
import { stageConfig, type StageConfig } from "./stageConfig";

export type ArchiveTables = Record<TableName, Table>;

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

function archiveTables({ stack, app }: StackContext, config: StageConfig, removalPolicy: RemovalPolicy): ArchiveTables {
  const build = (name: TableName): Table => {
    const definition = tables[name];
    const table = new Table(stack, `${name[0]?.toUpperCase()}${name.slice(1)}Table`, {
      tableName: app.logicalPrefixedName(definition.baseName),
      partitionKey: attribute(definition.partitionKey),
      ...("sortKey" in definition ? { sortKey: attribute(definition.sortKey) } : {}),
      ...("ttlAttribute" in definition ? { timeToLiveAttribute: definition.ttlAttribute } : {}),
      ...("stream" in definition ? { stream: StreamViewType.OLD_IMAGE } : {}),
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: config.pointInTimeRecovery },
      removalPolicy,
    });
    for (const index of "globalIndexes" in definition ? definition.globalIndexes : []) {
      table.addGlobalSecondaryIndex({
        indexName: index.indexName,
        partitionKey: attribute(index.partitionKey),
        ...("sortKey" in index ? { sortKey: attribute(index.sortKey) } : {}),
      });
    }
    return table;
  };
  return Object.fromEntries((Object.keys(tables) as TableName[]).map((name) => [name, build(name)])) as ArchiveTables;
}

function datastreamQueue({ stack, app }: StackContext, config: StageConfig): IQueue {
  const setting = config.datastreamQueue;
  if (setting.kind === "existing" && "arn" in setting) return Queue.fromQueueArn(stack, "DatastreamQueue", setting.arn);
  if (setting.kind === "existing") {
    return Queue.fromQueueArn(stack, "DatastreamQueue", stack.formatArn({ service: "sqs", resource: setting.name }));
  }
  // A stand-in for stages the datastreamer is not deployed to: notices wait here, visible in the console.
  return new Queue(stack, "DatastreamQueue", {
    queueName: `datastreamIncomingQueue-${app.stage}`,
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(4),
  });
}

/** The archive's data: the bucket, the DynamoDB tables, and the datastreamer queue the archive writes to. */
export function Storage(ctx: StackContext) {
  const { stack, app } = ctx;
  const config = stageConfig(app.stage);
  const removalPolicy = config.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
  const bucket = archiveBucket(ctx, config, removalPolicy);
  const archive = archiveTables(ctx, config, removalPolicy);
  const datastream = datastreamQueue(ctx, config);

  const environment: ArchiveEnvironment = {
    STAGE: app.stage,
    BUCKET_NAME: bucket.bucketName,
    ...Object.fromEntries((Object.keys(tables) as TableName[]).map((name) => [tables[name].configKey, archive[name].tableName])),
    DATASTREAM_QUEUE_URL: datastream.queueUrl,
    THUMBNAIL_HEIGHT: String(config.thumbnailHeight),
    UPLOAD_LOG_TTL_HOURS: String(config.uploadLogTtlHours),
    INFO_IMAGE_TTL_HOURS: String(config.infoImageTtlHours),
    ALLSKY_RETENTION_DAYS: String(config.allskyRetentionDays),
    MAX_UPLOAD_BYTES: String(config.maxUploadBytes),
    ALLOW_ANONYMOUS_UPLOADS: String(config.allowAnonymousUploads),
  };

  stack.addOutputs({
    BucketName: bucket.bucketName,
    DatastreamQueueUrl: datastream.queueUrl,
    ...Object.fromEntries(Object.entries(archive).map(([name, table]) => [`${name}TableName`, table.tableName])),
  });
  return { bucket, tables: archive, datastreamQueue: datastream, environment, config };
}
