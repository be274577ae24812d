import { mkdir } from "node:fs/promises";
import type { Server } from "node:http";
import { join, resolve } from "node:path";
import { z } from "zod";
import { downloadRoutes } from "@archive/core/api/downloadRoutes";
import { operationRoutes } from "@archive/core/api/operationRoutes";
import { readRoutes } from "@archive/core/api/readRoutes";
import { uploadRoutes } from "@archive/core/api/uploadRoutes";
import { INGEST_ROUTES, type IngestRoute } from "@archive/core/deliveries/pipelines";
import { sweepDueExpirations } from "@archive/core/expirations/expirations";
import { superviseExposures } from "@archive/core/exposures/archivedEvent";
import { publishCounterGaps } from "@archive/core/exposures/counterGaps";
import { createArchiveContext } from "@archive/core/platform/archiveContext";
import { parseConfig, type ArchiveEnvironment } from "@archive/core/platform/config";
import { closeClients, type AwsContext } from "@archive/core/platform/context";
import { migrateToLatest } from "@archive/core/platform/migrate";
import { tables, type TableName } from "@archive/core/platform/tables";
import { earliestSince, reconcile, reconcileRecent } from "@archive/core/quarantine/reconcile";
import { INGEST_QUEUE_SETTINGS } from "@archive/core/quarantine/reingest";
import { createDispatcher, LOCAL_RETRY, type Dispatcher, type QueueDefinition, type QueueStats } from "./dispatcher";
import { openMessageJournal } from "./messageJournal";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "./embeddedPostgres";
import { logger } from "./log";
import { startFunctionPool } from "./functionPool";
import { startDynamoServer, type LocalDynamoServer } from "./dynamoServer";
import { createLocalHttpServer } from "./httpServer";
import { s3EventRecord } from "./lambdaEvents";
import { createNoticeStream } from "./noticeStream";
import { startEventBusServer, type LocalEventBusServer } from "./eventBusServer";
import { assertPortsFree, localPorts, type LocalPorts } from "./ports";
import { startS3Server, type LocalS3Server } from "./s3Server";
import { startSchedules, type LocalSchedules, type ScheduleRun } from "./schedules";
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
  /** How soon an incomplete exposure is stuck (default 2 minutes, so a demo shows it; 30 on a deployed stage). */
  stuckAfterMinutes?: number;
  /** How long after a FITS file without a medium jpg its preview is made (default 10 s). */
  fitsPreviewDelaySeconds?: number;
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
  /** The last run of each scheduled job (the daily counter-gap count, …), as AWS keeps it in the functions' logs. */
  scheduledJobs: ScheduleRun[];
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
  schedules: LocalSchedules;
  stop(): Promise<void>;
}

const REGION = "us-east-1";
const BUCKET = "data-archive-local";
// s3rver's own default credentials; dynalite and the SQS stand-in accept any.
const CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };
const DATASTREAM_QUEUE = "datastreamIncomingQueue-local";
/** The delayed preview checks of FITS files (stacks/previews.ts's PreviewsQueue). */
const PREVIEWS_QUEUE = "previews-local";
/** Locally a FITS-only exposure's preview comes 10 s after its FITS file, so it can be seen in a demo. */
const LOCAL_FITS_PREVIEW_DELAY_SECONDS = 10;
const DEFAULT_FUNCTION_CONCURRENCY = 4;
const DAY_MS = 86_400_000;
/** The local archive's event bus, and how soon an exposure is stuck there (30 minutes on a deployed stage). */
const LOCAL_EVENT_BUS = "local-archive-events";
const LOCAL_STUCK_AFTER_MINUTES = 2;
/** The /stream topic of the exposure-archived event (notices keep their own topics). */
export const EXPOSURE_ARCHIVED_TOPIC = "exposure-archived";

/** The queues' messages until handled, under the state directory (messageJournal.ts). */
const QUEUE_JOURNAL = "queues.jsonl";

/** The archive's configuration as the variables a stack would set on its functions (config.ts names). */
function archiveEnvironment(
  s3: LocalS3Server,
  dynamo: LocalDynamoServer,
  sqs: LocalSqsServer,
  databaseUrl: string,
  options: LocalArchiveOptions,
  eventBus: LocalEventBusServer,
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
    PREVIEWS_QUEUE_URL: sqs.queueUrl(PREVIEWS_QUEUE),
    FITS_PREVIEW_DELAY_SECONDS: String(options.fitsPreviewDelaySeconds ?? LOCAL_FITS_PREVIEW_DELAY_SECONDS),
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
    // The exposure-archived event goes to the EventBridge stand-in, and from there to /stream.
    EVENT_BUS_NAME: LOCAL_EVENT_BUS,
    EVENTBRIDGE_ENDPOINT: eventBus.endpoint,
    // Short enough to see an exposure become stuck in a demo.
    STUCK_AFTER_MINUTES: String(options.stuckAfterMinutes ?? LOCAL_STUCK_AFTER_MINUTES),
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
/** The queue-driven functions: the ingest ones and makePreviews. */
const QUEUE_FUNCTIONS = { ...INGEST_FUNCTIONS, makePreviews: "@archive/functions/makePreviews" };

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
    const eventBus = await startEventBusServer();
    started.push({ name: "EventBridge stand-in", close: () => eventBus.close() });
    let postgres: EmbeddedPostgres | undefined;
    if (embedded) {
      postgres = await startEmbeddedPostgres({ dataDir: join(stateDir, "postgres"), port: ports.postgres });
      const stopPostgres = postgres.stop;
      started.push({ name: "embedded Postgres", close: () => stopPostgres() });
    }
    const databaseUrl = options.databaseUrl ?? postgres?.url;
    if (databaseUrl === undefined) throw new Error("no database URL");

    const environment = archiveEnvironment(s3, dynamo, sqs, databaseUrl, options, eventBus);
    const config = parseConfig(environment);
    // The in-process part (API, TTL sweep) runs the same core with the same configuration as the function environments.
    const ctx = createArchiveContext(config, { credentials: CREDENTIALS });
    started.push({ name: "database pool", close: () => ctx.db.destroy() });
    started.push({ name: "AWS clients", close: async () => closeClients(ctx) });
    await migrateToLatest(ctx.db, ctx.log);
    const functionConcurrency = options.functionConcurrency ?? DEFAULT_FUNCTION_CONCURRENCY;
    const functions = await startFunctionPool({ functions: QUEUE_FUNCTIONS, size: functionConcurrency, environment });
    started.push({ name: "function environments", close: () => functions.close() });

    const journal = openMessageJournal(join(stateDir, QUEUE_JOURNAL));
    started.push({ name: "queue journal", close: async () => journal.close() });
    const dispatcher = createDispatcher({
      region: REGION,
      journal,
      ...(options.retryDelayMs !== undefined ? { retryDelayMs: options.retryDelayMs } : {}),
      // Each queue may fill every environment; the pool holds the excess until one is free.
      concurrency: functionConcurrency,
      queues: [
        ...INGEST_ROUTES.map((route): QueueDefinition => ({
          name: ingestQueueName(route),
          prefix: route.prefix,
          functionName: route.functionName,
          handler: functions.handler(route.functionName),
        })),
        { name: PREVIEWS_QUEUE, functionName: "makePreviews", handler: functions.handler("makePreviews") },
      ],
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
    const previewsQueue = sqs.queueUrl(PREVIEWS_QUEUE);
    const unsubscribeNotices = sqs.onMessage((message) => {
      if (message.queueUrl === datastreamQueue) stream.publish(message.body);
      // Journaled by the dispatcher before SendMessage answers, so a check survives a restart with its delay.
      if (message.queueUrl === previewsQueue) dispatcher.send(PREVIEWS_QUEUE, message.body, (message.delaySeconds ?? 0) * 1000);
    });
    started.push({ name: "notice stream", close: async () => unsubscribeNotices() });
    const unsubscribeEvents = eventBus.onEvent((event) => {
      const site = z.object({ site: z.string() }).safeParse(event.detail);
      stream.publish(JSON.stringify({ topic: EXPOSURE_ARCHIVED_TOPIC, site: site.success ? site.data.site : "", data: event.detail }));
    });
    started.push({ name: "event stream", close: async () => unsubscribeEvents() });
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

    // The stage's scheduled functions (stacks/Operations.ts), run in this process on the same core.
    const schedules = startSchedules(
      [
        { name: "counter-gaps", everyMs: DAY_MS, atStart: true, run: (now) => publishCounterGaps(ctx, now) },
        { name: "stuck-exposures", everyMs: 5 * 60_000, atStart: true, run: () => superviseExposures(ctx) },
        // At start the whole record window is reconciled (repairLostEvents); then hourly, as in AWS.
        { name: "reconcile", everyMs: 3_600_000, atStart: false, run: () => reconcileRecent(ctx) },
      ],
      ctx.clock,
    );
    started.push({ name: "scheduled jobs", close: () => schedules.stop() });

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
      scheduledJobs: schedules.lastRuns(),
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
      schedules,
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
