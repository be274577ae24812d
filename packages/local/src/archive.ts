import { mkdir } from "node:fs/promises";
import type { Server } from "node:http";
import { join, resolve } from "node:path";
import { downloadRoutes } from "@archive/core/api/downloadRoutes";
import { operationRoutes } from "@archive/core/api/operationRoutes";
import { readRoutes } from "@archive/core/api/readRoutes";
import { uploadRoutes } from "@archive/core/api/uploadRoutes";
import { INGEST_ROUTES, type IngestRoute } from "@archive/core/deliveries/pipelines";
import { sweepDueExpirations } from "@archive/core/expirations/expirations";
import { createArchiveContext } from "@archive/core/platform/archiveContext";
import { parseConfig, type ArchiveEnvironment } from "@archive/core/platform/config";
import { closeClients, type AwsContext } from "@archive/core/platform/context";
import { migrateToLatest } from "@archive/core/platform/migrate";
import { tables, type TableName } from "@archive/core/platform/tables";
import { earliestSince, reconcile } from "@archive/core/quarantine/reconcile";
import { INGEST_QUEUE_SETTINGS } from "@archive/core/quarantine/reingest";
import { createDispatcher, LOCAL_RETRY, type Dispatcher, type QueueStats } from "./dispatcher";
import { openMessageJournal } from "./messageJournal";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "./embeddedPostgres";
import { logger } from "./log";
import { startFunctionPool } from "./functionPool";
import { startDynamoServer, type LocalDynamoServer } from "./dynamoServer";
import { createLocalHttpServer } from "./httpServer";
import { s3EventRecord } from "./lambdaEvents";
import { createNoticeStream } from "./noticeStream";
import { assertPortsFree, localPorts, type LocalPorts } from "./ports";
import { startS3Server, type LocalS3Server } from "./s3Server";
import { startSqsServer, type LocalSqsServer } from "./sqsServer";
import { startTtlEmulation, type TtlEmulation } from "./ttlEmulation";

/**
 * The whole archive on one machine: s3rver, dynalite and Postgres (embedded unless a URL is given), the same Lambda
 * handlers fed by a dispatcher, the API and dashboard on one port, and live notices on its `/stream`.
 */
export interface LocalArchiveOptions {
  /** The API's port (3000 for `npm start`); the services take the next ones unless `ports` moves them. */
  port: number;
  ports?: Partial<Omit<LocalPorts, "api">>;
  /** Where s3rver, dynalite and embedded Postgres keep their data. */
  stateDir: string;
  /** A real Postgres server; migrations run there. Embedded Postgres under stateDir when absent. */
  databaseUrl?: string;
  /** How often TTL is emulated (expiration sweep and TTL deletions). */
  ttlIntervalMs?: number;
  /** Delay before a failed message is delivered again the first time (it doubles after each receive). */
  retryDelayMs?: number;
  /** Execution environments (child processes) the ingest handlers run in, each one invocation at a time. */
  functionConcurrency?: number;
  /** Whether uploads without a site token are accepted (default true: a laptop has no tokens yet). */
  allowAnonymousUploads?: boolean;
  /** The handlers' log level (default: Powertools' own, from POWERTOOLS_LOG_LEVEL). */
  logLevel?: "DEBUG" | "INFO" | "WARN" | "ERROR" | "SILENT";
}

export interface LocalArchiveHealth {
  status: "ok";
  api: string;
  stream: string;
  s3: { endpoint: string; bucket: string; region: string; accessKeyId: string; secretAccessKey: string };
  dynamodb: { endpoint: string; region: string; tables: Record<TableName, string> };
  sqs: { endpoint: string; datastreamQueueUrl: string };
  database: "embedded" | "postgres";
  stateDir: string;
  anonymousUploads: boolean;
  queues: QueueStats[];
  deadLetters: number;
}

export interface LocalArchive {
  url: string;
  /** The database the handlers use (for a real server, as given, credentials included: not for printing). */
  databaseUrl: string;
  ports: LocalPorts;
  health(): LocalArchiveHealth;
  dispatcher: Dispatcher;
  ttl: TtlEmulation;
  sqs: LocalSqsServer;
  stop(): Promise<void>;
}

const REGION = "us-east-1";
const BUCKET = "data-archive-local";
// s3rver's own default credentials; dynalite and the SQS stand-in accept any.
const CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };
const DATASTREAM_QUEUE = "datastreamIncomingQueue-local";
const DEFAULT_FUNCTION_CONCURRENCY = 4;
/** The queues' messages until handled, under the state directory (messageJournal.ts). */
const QUEUE_JOURNAL = "queues.jsonl";

/** The archive's configuration as the variables a stack would set on its functions (config.ts names). */
function archiveEnvironment(
  s3: LocalS3Server,
  dynamo: LocalDynamoServer,
  sqs: LocalSqsServer,
  databaseUrl: string,
  options: LocalArchiveOptions,
): ArchiveEnvironment & Record<string, string> {
  const tableVariables = Object.fromEntries(
    (Object.keys(tables) as TableName[]).map((name) => [tables[name].configKey, dynamo.tableNames[name]]),
  );
  return {
    STAGE: "local",
    AWS_REGION: REGION,
    // The SDK's own credential chain reads these in the function environments.
    AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    // CloudWatch metrics (EMF lines on stdout) mean nothing on a laptop.
    POWERTOOLS_METRICS_DISABLED: "true",
    ...(options.logLevel ? { LOG_LEVEL: options.logLevel } : {}),
    BUCKET_NAME: s3.bucket,
    DATABASE_URL: databaseUrl,
    DATABASE_POOL_SIZE: "4",
    ...tableVariables,
    DATASTREAM_QUEUE_URL: sqs.queueUrl(DATASTREAM_QUEUE),
    // Re-ingestion sends to the SQS stand-in's ingest queues, which the dispatcher drains (startLocalArchive).
    ...Object.fromEntries(INGEST_ROUTES.map((route) => [INGEST_QUEUE_SETTINGS[route.functionName], sqs.queueUrl(ingestQueueName(route))])),
    INGEST_MAX_RECEIVE_COUNT: String(LOCAL_RETRY.maxReceiveCount),
    // A laptop's events arrive within seconds; the reconciler leaves only the last minute's objects alone.
    RECONCILE_GRACE_MINUTES: "1",
    ALLOW_ANONYMOUS_UPLOADS: String(options.allowAnonymousUploads ?? true),
    S3_ENDPOINT: s3.endpoint,
    S3_PUBLIC_ENDPOINT: s3.endpoint,
    DYNAMODB_ENDPOINT: dynamo.endpoint,
    SQS_ENDPOINT: sqs.endpoint,
  };
}

/**
 * The configuration operator tools (`npm run tokens -- --local`) use against a running local archive, from what its
 * /health publishes: the same services and tables its functions use, everything but the database. The credentials
 * are /health's too (`health.s3`), given to createAwsContext.
 */
export function operatorEnvironment(health: LocalArchiveHealth): Record<string, string> {
  return {
    STAGE: "local",
    AWS_REGION: health.s3.region,
    BUCKET_NAME: health.s3.bucket,
    S3_ENDPOINT: health.s3.endpoint,
    S3_PUBLIC_ENDPOINT: health.s3.endpoint,
    DYNAMODB_ENDPOINT: health.dynamodb.endpoint,
    SQS_ENDPOINT: health.sqs.endpoint,
    DATASTREAM_QUEUE_URL: health.sqs.datastreamQueueUrl,
    // Required by the configuration; these tools work on tokens and tables and never connect to it.
    DATABASE_URL: "postgresql://unused@127.0.0.1:9/unused",
    ALLOW_ANONYMOUS_UPLOADS: String(health.anonymousUploads),
    ...Object.fromEntries((Object.keys(tables) as TableName[]).map((name) => [tables[name].configKey, health.dynamodb.tables[name]])),
  };
}

async function listen(server: Server, port: number): Promise<void> {
  await new Promise<void>((resolvePromise, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", reject);
      resolvePromise();
    });
  });
}

/** Closes what started, last first, logging (not throwing) each failure so the rest still closes. */
async function closeAll(steps: { name: string; close: () => Promise<unknown> }[]): Promise<void> {
  for (const step of [...steps].reverse()) {
    try {
      await step.close();
    } catch (error) {
      logger.error("could not close a local service", { service: step.name, error: error instanceof Error ? error : String(error) });
    }
  }
}

/** The local queue of an ingest route: in the dispatcher and, for re-ingestion, in the SQS stand-in. */
const ingestQueueName = (route: IngestRoute) => `${route.directory}-ingest-local`;

/**
 * At start the reconciler re-ingests every object the delivery records do not know (an event lost in a crash), as far
 * back as records are kept; a failure is logged and the archive starts all the same.
 */
async function repairLostEvents(ctx: AwsContext): Promise<void> {
  try {
    const report = await reconcile(ctx, { since: earliestSince(ctx.clock()), dryRun: false, graceMs: 0 });
    if (report.reingested > 0) logger.warn("objects whose events were lost are re-ingested", { count: report.reingested });
  } catch (error) {
    logger.error("the reconciler could not run at start", { error: error instanceof Error ? error : String(error) });
  }
}

/** The ingest functions, by the names the stacks give them; each environment imports them as a Lambda cold start does. */
const INGEST_FUNCTIONS = Object.fromEntries(
  INGEST_ROUTES.map((route) => [route.functionName, `@archive/functions/${route.functionName}`]),
);

export async function startLocalArchive(options: LocalArchiveOptions): Promise<LocalArchive> {
  const stateDir = resolve(options.stateDir);
  const embedded = options.databaseUrl === undefined;
  const ports = localPorts(options.port, options.ports);
  await assertPortsFree(ports, embedded ? ["api", "s3", "dynamodb", "sqs", "postgres"] : ["api", "s3", "dynamodb", "sqs"]);
  await Promise.all(["s3", "dynamodb", "postgres"].map((part) => mkdir(join(stateDir, part), { recursive: true })));

  const started: { name: string; close: () => Promise<unknown> }[] = [];
  try {
    const s3 = await startS3Server({ bucket: BUCKET, directory: join(stateDir, "s3"), port: ports.s3 });
    started.push({ name: "s3rver", close: () => s3.close() });
    const dynamo = await startDynamoServer({ port: ports.dynamodb, path: join(stateDir, "dynamodb") });
    started.push({ name: "dynalite", close: () => dynamo.close() });
    const sqs = await startSqsServer({ port: ports.sqs });
    started.push({ name: "SQS stand-in", close: () => sqs.close() });
    let postgres: EmbeddedPostgres | undefined;
    if (embedded) {
      postgres = await startEmbeddedPostgres({ dataDir: join(stateDir, "postgres"), port: ports.postgres });
      const stopPostgres = postgres.stop;
      started.push({ name: "embedded Postgres", close: () => stopPostgres() });
    }
    const databaseUrl = options.databaseUrl ?? postgres?.url;
    if (databaseUrl === undefined) throw new Error("no database URL");

    const environment = archiveEnvironment(s3, dynamo, sqs, databaseUrl, options);
    const config = parseConfig(environment);
    // The in-process part (API, TTL sweep) runs the same core with the same configuration as the function environments.
    const ctx = createArchiveContext(config, { credentials: CREDENTIALS });
    started.push({ name: "database pool", close: () => ctx.db.destroy() });
    started.push({ name: "AWS clients", close: async () => closeClients(ctx) });
    await migrateToLatest(ctx.db, ctx.log);
    const functionConcurrency = options.functionConcurrency ?? DEFAULT_FUNCTION_CONCURRENCY;
    const functions = await startFunctionPool({ functions: INGEST_FUNCTIONS, size: functionConcurrency, environment });
    started.push({ name: "function environments", close: () => functions.close() });

    const journal = openMessageJournal(join(stateDir, QUEUE_JOURNAL));
    started.push({ name: "queue journal", close: async () => journal.close() });
    const dispatcher = createDispatcher({
      region: REGION,
      journal,
      ...(options.retryDelayMs !== undefined ? { retryDelayMs: options.retryDelayMs } : {}),
      // Each queue may fill every environment; the pool holds the excess until one is free.
      concurrency: functionConcurrency,
      queues: INGEST_ROUTES.map((route) => ({
        name: ingestQueueName(route),
        prefix: route.prefix,
        functionName: route.functionName,
        handler: functions.handler(route.functionName),
      })),
    });
    started.push({ name: "dispatcher", close: () => dispatcher.stop() });
    const unsubscribe = s3.onNotification((notification) => {
      for (const record of notification.Records) {
        if (!record.eventName.startsWith("ObjectCreated:")) continue;
        const prefix = record.s3.object.key.split("/")[0] ?? "";
        dispatcher.dispatch(s3EventRecord(record, `${prefix}-ingest`));
      }
    });
    started.push({ name: "S3 notifications", close: async () => unsubscribe() });

    const stream = createNoticeStream();
    const datastreamQueue = sqs.queueUrl(DATASTREAM_QUEUE);
    const unsubscribeNotices = sqs.onMessage((message) => {
      if (message.queueUrl === datastreamQueue) stream.publish(message.body);
    });
    started.push({ name: "notice stream", close: async () => unsubscribeNotices() });
    const ingestQueues = new Map(INGEST_ROUTES.map((route) => [sqs.queueUrl(ingestQueueName(route)), ingestQueueName(route)]));
    const unsubscribeIngest = sqs.onMessage((message) => {
      const queue = ingestQueues.get(message.queueUrl);
      if (queue !== undefined) dispatcher.send(queue, message.body);
    });
    started.push({ name: "ingest queues", close: async () => unsubscribeIngest() });

    const ttl = startTtlEmulation({
      dynamo: ctx.dynamo,
      tableNames: dynamo.tableNames,
      sweepExpirations: (now) => sweepDueExpirations(ctx, now),
      intervalMs: options.ttlIntervalMs ?? 5000,
    });
    started.push({ name: "TTL emulation", close: () => ttl.stop() });

    const url = `http://localhost:${ports.api}`;
    const health = (): LocalArchiveHealth => ({
      status: "ok",
      api: url,
      stream: `ws://localhost:${ports.api}/stream`,
      s3: { endpoint: s3.endpoint, bucket: s3.bucket, region: REGION, ...CREDENTIALS },
      dynamodb: { endpoint: dynamo.endpoint, region: REGION, tables: dynamo.tableNames },
      sqs: { endpoint: sqs.endpoint, datastreamQueueUrl: datastreamQueue },
      database: embedded ? "embedded" : "postgres",
      stateDir,
      anonymousUploads: config.ALLOW_ANONYMOUS_UPLOADS !== "false",
      queues: dispatcher.stats(),
      deadLetters: dispatcher.deadLetters().length,
    });
    const http = createLocalHttpServer({
      ctx,
      // No authorizer runs here, so the operations routes are open, as the local archive is the operator's own.
      routes: { ...readRoutes, ...uploadRoutes, ...downloadRoutes, ...operationRoutes },
      health,
      deadLetters: () => dispatcher.deadLetters(),
      redrive: (messageIds) => dispatcher.redrive(messageIds),
      stream,
    });
    await repairLostEvents(ctx);
    await listen(http, ports.api);
    started.push({
      name: "HTTP server",
      // Upgraded /stream sockets count as the server's connections until they end: closed first, or close() waits
      // for every dashboard tab to go away.
      close: async () => {
        await stream.close();
        await new Promise<void>((resolvePromise, reject) => {
          http.close((error) => (error ? reject(error) : resolvePromise()));
          http.closeAllConnections();
        });
      },
    });

    let stopping: Promise<void> | undefined;
    return {
      url,
      databaseUrl,
      ports,
      health,
      dispatcher,
      ttl,
      sqs,
      stop: () => {
        stopping ??= closeAll(started);
        return stopping;
      },
    };
  } catch (error) {
    await closeAll(started);
    throw error;
  }
}
