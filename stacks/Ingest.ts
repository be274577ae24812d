import { Rule, Schedule } from "aws-cdk-lib/aws-events";
import { LambdaFunction, SqsQueue } from "aws-cdk-lib/aws-events-targets";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import { FilterCriteria, FilterRule, StartingPosition } from "aws-cdk-lib/aws-lambda";
import { DynamoEventSource, SqsDlq, SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import type { ITable } from "aws-cdk-lib/aws-dynamodb";
import { Bucket, EventType } from "aws-cdk-lib/aws-s3";
import { SqsDestination } from "aws-cdk-lib/aws-s3-notifications";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import { Duration } from "aws-cdk-lib/core";
import { use, type Function, type StackContext } from "sst/constructs";
import { INGEST_MAX_RECEIVE_COUNT, INGEST_ROUTES, type IngestRoute } from "../packages/core/src/deliveries/pipelines";
import { INGEST_QUEUE_SETTINGS } from "../packages/core/src/quarantine/reingest";
import { alarmOnDeadLetters, alarmOnFunction } from "./alarms";
import { Database } from "./Database";
import { archiveFunction } from "./functions";
import { tableActions, tableStatement } from "./permissions";
import { Monitoring } from "./Monitoring";
import { fitsPreviews } from "./previews";
import { sharpLayer } from "./sharpLayer";
import { Storage } from "./Storage";

const INGEST_TIMEOUT_SECONDS = 60;

/**
 * S3 → SQS → Lambda for each prefix (through the bucket's notifications or EventBridge rules, as the stage says), the
 * expiration stream and sweep, and their dead-letter queues.
 */
export function Ingest({ stack }: StackContext) {
  const { bucket: storedBucket, tables, datastreamQueue, eventBus, environment, config } = use(Storage);
  const { database, migrations } = use(Database);
  const { alarmTopic } = use(Monitoring);
  // A reference in this stack: the notification resource lands here (no cycle with Storage), and is additive
  // ("unmanaged"), so it leaves other notifications on an existing bucket alone.
  const bucket = Bucket.fromBucketName(stack, "NotifyingBucket", storedBucket.bucketName);
  const layer = sharpLayer(stack);
  const retainLogs = config.retainData;
  const viaEventBridge = config.objectEvents === "eventbridge";
  // Turns on the bucket's EventBridge delivery; the bucket's queue, topic and function notifications stay as they are.
  if (viaEventBridge) bucket.enableEventBridgeNotification();

  const objects = (...prefixes: string[]) => prefixes.map((prefix) => bucket.arnForObjects(`${prefix}*`));
  // In shadow mode no function may send a notice, whatever the configuration says.
  const sendNotices = config.shadow
    ? []
    : [new PolicyStatement({ actions: ["sqs:SendMessage"], resources: [datastreamQueue.queueArn] })];

  /** Object-created events under one prefix reach the queue: one notification, or one EventBridge rule. */
  const feedQueue = (id: string, prefix: string, queue: Queue, deadLetters: Queue) => {
    if (!viaEventBridge) {
      bucket.addEventNotification(EventType.OBJECT_CREATED, new SqsDestination(queue), { prefix });
      return;
    }
    new Rule(stack, `${id}ObjectCreatedRule`, {
      description: `Objects created under ${prefix}, to the ${id} ingest queue`,
      eventPattern: {
        source: ["aws.s3"],
        detailType: ["Object Created"],
        detail: { bucket: { name: [bucket.bucketName] }, object: { key: [{ prefix }] } },
      },
      // An event EventBridge cannot deliver lands with the queue's own dead letters, which alarm.
      targets: [new SqsQueue(queue, { deadLetterQueue: deadLetters })],
    });
  };

  /** A queue fed by object-created events under one prefix, drained by one function. */
  const prefixQueue = (id: string, prefix: string, fn: Function, maxConcurrency: number) => {
    const deadLetters = new Queue(stack, `${id}DeadLetterQueue`, {
      retentionPeriod: Duration.days(14),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    const queue = new Queue(stack, `${id}Queue`, {
      // AWS's guidance for Lambda consumers: six times the function timeout, so retries never overlap a running batch.
      visibilityTimeout: Duration.seconds(INGEST_TIMEOUT_SECONDS * 6),
      retentionPeriod: Duration.days(4),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: deadLetters, maxReceiveCount: INGEST_MAX_RECEIVE_COUNT },
    });
    feedQueue(id, prefix, queue, deadLetters);
    fn.addEventSource(
      new SqsEventSource(queue, {
        batchSize: 10,
        maxBatchingWindow: Duration.seconds(1),
        reportBatchItemFailures: true,
        maxConcurrency,
      }),
    );
    alarmOnDeadLetters(stack, `${id}DeadLetterQueue`, deadLetters, alarmTopic);
    return { queue, deadLetters };
  };

  /**
   * An ingest function for one prefix: it reads what arrives there and writes thumbnails next to it. ListBucket (on
   * the bucket alone) makes S3 answer 404, not 403, for an object deleted before its event is processed, so that
   * event is acknowledged instead of retried into the dead-letter queue.
   */
  const ingestFunction = (id: string, prefix: string, props: { connects: boolean; tables: ITable[]; concurrency: number }) => {
    const fn = archiveFunction(stack, `Ingest${id}`, {
      handler: `ingest${id}`,
      // sharp decodes a medium jpg and writes the thumbnail; more memory is also more CPU.
      memorySize: 1024,
      timeoutSeconds: INGEST_TIMEOUT_SECONDS,
      environment,
      database,
      connects: props.connects,
      sharp: layer,
      retainLogs,
      statements: [
        new PolicyStatement({ actions: ["s3:GetObject", "s3:PutObject"], resources: objects(prefix) }),
        new PolicyStatement({ actions: ["s3:ListBucket"], resources: [bucket.bucketArn] }),
        tableStatement(tableActions.write, ...props.tables),
        ...sendNotices,
      ],
    });
    return { fn, ...prefixQueue(id, prefix, fn, props.concurrency) };
  };

  // A refused object is quarantined by the function that refused it.
  const deliveryTables = [tables.uploadLog, tables.expirations, tables.objectDeliveries, tables.quarantine];
  /** The tables each pipeline writes besides the delivery tables every ingest function writes. */
  const pipelineTables: Record<IngestRoute["functionName"], ITable[]> = {
    ingestData: [],
    ingestInfoImages: [tables.infoImages],
    ingestAllsky: [tables.allsky],
  };
  // One function, queue and dead-letter queue per route of core's ingest table.
  const ingest = INGEST_ROUTES.map((route) => ({
    route,
    id: route.functionName.replace(/^ingest/, ""),
    ...ingestFunction(route.functionName.replace(/^ingest/, ""), route.prefix, {
      connects: route.usesDatabase,
      tables: [...pipelineTables[route.functionName], ...deliveryTables],
      concurrency: route.usesDatabase ? config.ingestDataConcurrency : config.consumerConcurrency,
    }),
  }));

  // Previews from FITS; not in shadow mode, whose bucket is the running system's (no jpg may be written there).
  const ingestData = ingest.find((route) => route.id === "Data")?.fn;
  const previews =
    ingestData && !config.shadow
      ? fitsPreviews(stack, { bucket, environment, database, sharp: layer, retainLogs, alarmTopic, ingestData })
      : undefined;

  // Expiring an exposure lists its objects by base filename, then deletes them; allsky images expire too. In shadow
  // mode nothing expires: the objects are the running system's, and it deletes them itself.
  const expiringPrefixes = ["data/", "info-images/", "allsky/"];
  const expires = !config.shadow;
  const deleteExposures = expires
    ? [
        new PolicyStatement({ actions: ["s3:DeleteObject"], resources: objects(...expiringPrefixes) }),
        new PolicyStatement({
          actions: ["s3:ListBucket"],
          resources: [bucket.bucketArn],
          conditions: { StringLike: { "s3:prefix": expiringPrefixes.map((prefix) => `${prefix}*`) } },
        }),
      ]
    : [];

  const expireData = archiveFunction(stack, "ExpireData", {
    handler: "expireData",
    memorySize: 512,
    timeoutSeconds: 60,
    environment,
    database,
    connects: true,
    retainLogs,
    statements: [...deleteExposures, tableStatement(tableActions.write, tables.infoImages, tables.allsky)],
  });
  const expirationDeadLetters = new Queue(stack, "ExpirationDeadLetterQueue", {
    retentionPeriod: Duration.days(14),
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
  });
  expireData.addEventSource(
    new DynamoEventSource(tables.expirations, {
      startingPosition: StartingPosition.TRIM_HORIZON,
      batchSize: 10,
      reportBatchItemFailures: true,
      bisectBatchOnError: true,
      retryAttempts: 5,
      maxRecordAge: Duration.hours(24),
      onFailure: new SqsDlq(expirationDeadLetters),
      enabled: expires,
      // Only deletions by DynamoDB's TTL expire data: a person deleting a tracker entry cancels an expiration.
      filters: [
        FilterCriteria.filter({
          eventName: FilterRule.isEqual("REMOVE"),
          userIdentity: { type: FilterRule.isEqual("Service"), principalId: FilterRule.isEqual("dynamodb.amazonaws.com") },
        }),
      ],
    }),
  );
  alarmOnDeadLetters(stack, "ExpirationDeadLetterQueue", expirationDeadLetters, alarmTopic);

  const sweepExpirations = archiveFunction(stack, "SweepExpirations", {
    handler: "sweepExpirations",
    memorySize: 512,
    // Less than the schedule's period, so two sweeps never overlap.
    timeoutSeconds: 50,
    environment,
    database,
    connects: true,
    retainLogs,
    statements: [
      ...deleteExposures,
      tableStatement(tableActions.write, tables.infoImages, tables.allsky),
      // TTL deletes up to days late: the sweep scans the tracker (the running system's table has no index) for due
      // entries and removes them itself.
      tableStatement(["dynamodb:Scan", "dynamodb:DeleteItem"], tables.expirations),
    ],
  });
  new Rule(stack, "SweepSchedule", {
    description: "Expire due data without waiting for DynamoDB's TTL deletion",
    schedule: Schedule.rate(Duration.minutes(1)),
    targets: [new LambdaFunction(sweepExpirations, { retryAttempts: 0 })],
    enabled: expires,
  });

  // The data ingester publishes the exposure-archived event when a file completes an exposure.
  for (const route of ingest) if (route.id === "Data") eventBus.grantPutEventsTo(route.fn);

  for (const fn of [...ingest.map((route) => route.fn), expireData, sweepExpirations, ...(previews ? [previews.makePreviews] : [])]) {
    // New code takes events only after the schema it expects exists.
    fn.node.addDependency(migrations);
    alarmOnFunction(stack, fn.id, fn, alarmTopic);
  }

  stack.addOutputs({
    ...Object.fromEntries(
      ingest.flatMap((route) => [
        [`${route.id}QueueUrl`, route.queue.queueUrl],
        [`${route.id}DeadLetterQueueUrl`, route.deadLetters.queueUrl],
      ]),
    ),
    ExpirationDeadLetterQueueUrl: expirationDeadLetters.queueUrl,
    ...(previews ? { PreviewsQueueUrl: previews.queue.queueUrl, PreviewsDeadLetterQueueUrl: previews.deadLetters.queueUrl } : {}),
  });
  /** Re-ingestion (POST /reingest, the reconciler) sends to these queues: their URLs as settings, and the queues. */
  const ingestQueues = ingest.map((route) => route.queue);
  const ingestQueueEnvironment = Object.fromEntries(
    ingest.map((route) => [INGEST_QUEUE_SETTINGS[route.route.functionName], route.queue.queueUrl]),
  );
  return { sharpLayer: layer, ingestQueues, ingestQueueEnvironment };
}
