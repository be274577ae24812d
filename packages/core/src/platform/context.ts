import { S3Client } from "@aws-sdk/client-s3";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { SQSClient } from "@aws-sdk/client-sqs";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import type { Kysely } from "kysely";
import type { Database } from "../exposures/imagesTable";
import type { ArchiveConfig } from "./config";
import { createLogger, createMetrics, type Logger, type Metrics } from "./logger";
import { stageTableNames, type StageTableNames } from "./tables";

/**
 * What every core function that does I/O is given as its first argument: the configuration, the stage's table names,
 * the SDK clients, a clock, the logger and the metrics sink. Built once per process by its entry point (a Lambda
 * handler module, the local archive, a test) and passed down; nothing in core reaches for a global.
 * AwsContext is the part without Postgres, so functions that never query it bundle neither pg nor kysely.
 */
export interface AwsContext {
  config: ArchiveConfig;
  tables: StageTableNames;
  s3: S3Client;
  /** Presigned URLs are signed for the address clients use, which locally may differ from the functions' one. */
  s3Public: S3Client;
  dynamo: DynamoDBDocumentClient;
  sqs: SQSClient;
  /** The stage's event bus (EVENT_BUS_NAME), for the exposure-archived event. */
  events: EventBridgeClient;
  /** Now; tests and the local archive's TTL emulation may move it. */
  clock: () => Date;
  log: Logger;
  metrics: Metrics;
}

export interface ArchiveContext extends AwsContext {
  db: Kysely<Database>;
}

export type ContextOverrides = Partial<Pick<AwsContext, "clock" | "log" | "metrics">> & {
  /** Fixed credentials for local emulators (tests, the local archive); otherwise the SDK's default chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
};

type Client = Pick<S3Client, "destroy">;
type ClientName = "s3" | "s3Public" | "dynamo" | "sqs" | "events";

/** The clients a context has built so far, for closeClients; a context without an entry has plain client fields. */
const builtClients = new WeakMap<AwsContext, () => Client[]>();

/** A value made by `create` on first `get`, and whether it has been made. */
function onFirstUse<T>(create: () => T): { get: () => T; built: () => T | undefined } {
  let value: T | undefined;
  return { get: () => (value ??= create()), built: () => value };
}

/** The SDK clients are built on first use: a function pays only for the clients its route calls. */
export function createAwsContext(config: ArchiveConfig, overrides: ContextOverrides = {}): AwsContext {
  const region = config.AWS_REGION;
  const common = { region, ...(overrides.credentials ? { credentials: overrides.credentials } : {}) };
  const publicEndpoint = config.S3_PUBLIC_ENDPOINT ?? config.S3_ENDPOINT;
  const s3 = onFirstUse(
    () => new S3Client({ ...common, ...(config.S3_ENDPOINT ? { endpoint: config.S3_ENDPOINT, forcePathStyle: true } : {}) }),
  );
  const s3Public =
    publicEndpoint === config.S3_ENDPOINT
      ? s3
      : onFirstUse(() => new S3Client({ ...common, ...(publicEndpoint ? { endpoint: publicEndpoint, forcePathStyle: true } : {}) }));
  const dynamo = onFirstUse(() =>
    DynamoDBDocumentClient.from(
      new DynamoDBClient({ ...common, ...(config.DYNAMODB_ENDPOINT ? { endpoint: config.DYNAMODB_ENDPOINT } : {}) }),
      { marshallOptions: { removeUndefinedValues: true } },
    ),
  );
  const sqs = onFirstUse(() => new SQSClient({ ...common, ...(config.SQS_ENDPOINT ? { endpoint: config.SQS_ENDPOINT } : {}) }));
  const events = onFirstUse(
    () => new EventBridgeClient({ ...common, ...(config.EVENTBRIDGE_ENDPOINT ? { endpoint: config.EVENTBRIDGE_ENDPOINT } : {}) }),
  );
  const clients: Record<ClientName, { built: () => Client | undefined }> = { s3, s3Public, dynamo, sqs, events };
  const ctx: AwsContext = {
    config,
    tables: stageTableNames(config),
    get s3() {
      return s3.get();
    },
    get s3Public() {
      return s3Public.get();
    },
    get dynamo() {
      return dynamo.get();
    },
    get sqs() {
      return sqs.get();
    },
    get events() {
      return events.get();
    },
    clock: overrides.clock ?? (() => new Date()),
    log: overrides.log ?? createLogger(config),
    metrics: overrides.metrics ?? createMetrics(config),
  };
  builtClients.set(ctx, () => Object.values(clients).flatMap((client) => client.built() ?? []));
  return ctx;
}

/** Releases the context's SDK clients, only those it has built; a database pool is closed by whoever created it (`db.destroy()`). */
export function closeClients(ctx: AwsContext): void {
  const built = builtClients.get(ctx)?.() ?? [ctx.s3, ctx.s3Public, ctx.dynamo, ctx.sqs, ctx.events];
  for (const client of new Set(built)) client.destroy();
}
