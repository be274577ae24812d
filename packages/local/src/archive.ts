import { mkdir } from "node:fs/promises";
import type { Server } from "node:http";
import { join, resolve } from "node:path";
import { awsClients, resetAwsClients } from "@archive/core/aws";
import { resetConfig } from "@archive/core/config";
import { closeDatabase, database } from "@archive/core/db";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "@archive/core/embeddedPostgres";
import { logger } from "@archive/core/logger";
import { migrateToLatest } from "@archive/core/migrate";
import { tables, type TableName } from "@archive/core/tables";
import { createDispatcher, type Dispatcher, type QueueStats } from "./dispatcher";
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
  /** Delay before a failed message is delivered again (multiplied by its receive count). */
  retryDelayMs?: number;
  /** Execution environments (child processes) the ingest handlers run in, each one invocation at a time. */
  functionConcurrency?: number;
}

export interface LocalArchiveHealth {
  status: "ok";
  api: string;
  stream: string;
  s3: { endpoint: string; bucket: string; region: string; accessKeyId: string; secretAccessKey: string };
  dynamodb: { endpoint: string; region: string; tables: Record<TableName, string> };
  database: "embedded" | "postgres";
  stateDir: string;
  anonymousUploads: true;
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

/** The configuration (config.ts names) the handlers read; set before any of them is imported. */
function archiveEnvironment(s3: LocalS3Server, dynamo: LocalDynamoServer, sqs: LocalSqsServer, databaseUrl: string): Record<string, string> {
  const tableVariables = Object.fromEntries(
    (Object.keys(tables) as TableName[]).map((name) => [tables[name].configKey, dynamo.tableNames[name]]),
  );
  return {
    STAGE: "local",
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    BUCKET_NAME: s3.bucket,
    DATABASE_URL: databaseUrl,
    DATABASE_POOL_SIZE: "4",
    ...tableVariables,
    DATASTREAM_QUEUE_URL: sqs.queueUrl(DATASTREAM_QUEUE),
    ALLOW_ANONYMOUS_UPLOADS: "true",
    S3_ENDPOINT: s3.endpoint,
    S3_PUBLIC_ENDPOINT: s3.endpoint,
    DYNAMODB_ENDPOINT: dynamo.endpoint,
    SQS_ENDPOINT: sqs.endpoint,
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

/** The ingest functions, by the names the stacks give them; each environment imports them as a Lambda cold start does. */
const INGEST_FUNCTIONS = {
  ingestData: "@archive/functions/ingestData",
  ingestInfoImages: "@archive/functions/ingestInfoImages",
  ingestAllsky: "@archive/functions/ingestAllsky",
};

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

    Object.assign(process.env, archiveEnvironment(s3, dynamo, sqs, databaseUrl));
    resetConfig();
    resetAwsClients();
    await closeDatabase();
    started.push({ name: "database pool", close: () => closeDatabase() });
    started.push({
      name: "AWS clients",
      close: async () => {
        const clients = awsClients();
        for (const client of [clients.s3, clients.s3Public, clients.dynamo, clients.sqs]) client.destroy();
        resetAwsClients();
        resetConfig();
      },
    });
    await migrateToLatest(database());
    const functionConcurrency = options.functionConcurrency ?? DEFAULT_FUNCTION_CONCURRENCY;
    // Started after the environment is set: the handlers read it when imported.
    const functions = await startFunctionPool({ functions: INGEST_FUNCTIONS, size: functionConcurrency });
    started.push({ name: "function environments", close: () => functions.close() });
    const { sweepDueExpirations } = await import("@archive/core/expirations");

    const dispatcher = createDispatcher({
      region: REGION,
      retryDelayMs: options.retryDelayMs ?? 1000,
      // Each queue may fill every environment; the pool holds the excess until one is free.
      concurrency: functionConcurrency,
      queues: [
        { name: "data-ingest-local", prefix: "data/", functionName: "ingestData", handler: functions.handler("ingestData") },
        { name: "info-images-ingest-local", prefix: "info-images/", functionName: "ingestInfoImages", handler: functions.handler("ingestInfoImages") },
        { name: "allsky-ingest-local", prefix: "allsky/", functionName: "ingestAllsky", handler: functions.handler("ingestAllsky") },
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
    const unsubscribeNotices = sqs.onMessage((message) => {
      if (message.queueUrl === datastreamQueue) stream.publish(message.body);
    });
    started.push({ name: "notice stream", close: async () => {
      unsubscribeNotices();
      await stream.close();
    } });

    const ttl = startTtlEmulation({
      dynamo: awsClients().dynamo,
      tableNames: dynamo.tableNames,
      sweepExpirations: (now) => sweepDueExpirations(now),
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
      database: embedded ? "embedded" : "postgres",
      stateDir,
      anonymousUploads: true,
      queues: dispatcher.stats(),
      deadLetters: dispatcher.deadLetters().length,
    });
    const http = createLocalHttpServer({ health, deadLetters: () => dispatcher.deadLetters(), stream });
    await listen(http, ports.api);
    started.push({
      name: "HTTP server",
      close: () =>
        new Promise<void>((resolvePromise, reject) => {
          http.close((error) => (error ? reject(error) : resolvePromise()));
          http.closeAllConnections();
        }),
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
