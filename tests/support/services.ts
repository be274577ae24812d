import { afterAll, beforeAll } from "vitest";
import { createArchiveContext } from "@archive/core/platform/archiveContext";
import { parseConfig } from "@archive/core/platform/config";
import { closeClients, type ArchiveContext } from "@archive/core/platform/context";
import { tables, type TableName } from "@archive/core/platform/tables";
import { startDynamoServer, type LocalDynamoServer } from "@archive/local/dynamoServer";
import { startS3Server, type LocalS3Server } from "@archive/local/s3Server";
import { startSqsServer, type LocalSqsServer } from "@archive/local/sqsServer";
import type { TestDatabase } from "./database";

// Call useServices() at a test file's top level (after useTestDatabase(), whose database it uses): s3rver, dynalite
// with every table, and the SQS stand-in start once for the file, and `ctx` is the archive's context on them, built
// as a handler module builds its own. Nothing is written to process.env.

export interface TestServices {
  readonly s3: LocalS3Server;
  readonly dynamo: LocalDynamoServer;
  readonly sqs: LocalSqsServer;
  readonly bucket: string;
  readonly queueUrl: string;
  /** The archive's context on these services and the test database. */
  readonly ctx: ArchiveContext;
  /** Another context with some settings changed (same services and database), e.g. ALLOW_ANONYMOUS_UPLOADS. */
  contextWith(settings: Record<string, string>): ArchiveContext;
}

export interface TestServicesOptions {
  /** The test's database (useTestDatabase); without it the context's database is never reachable. */
  database?: TestDatabase;
  /** Settings by their variable names, e.g. THUMBNAIL_HEIGHT. */
  settings?: Record<string, string>;
}

export function useServices(options: TestServicesOptions = {}): TestServices {
  let started:
    | { s3: LocalS3Server; dynamo: LocalDynamoServer; sqs: LocalSqsServer; queueUrl: string; environment: Record<string, string> }
    | undefined;
  const contexts: ArchiveContext[] = [];
  const bucket = "archive-test";

  const get = () => {
    if (!started) throw new Error("useServices: the services run only from beforeAll on");
    return started;
  };
  const contextWith = (settings: Record<string, string>): ArchiveContext => {
    const config = parseConfig({ ...get().environment, ...settings });
    const ctx = createArchiveContext(config, {
      // s3rver knows only this key pair; dynalite and the SQS stand-in accept any.
      credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
      ...(options.database ? { db: options.database.db } : {}),
    });
    contexts.push(ctx);
    return ctx;
  };
  let defaultContext: ArchiveContext | undefined;

  beforeAll(async () => {
    const [s3, dynamo, sqs] = await Promise.all([startS3Server({ bucket }), startDynamoServer(), startSqsServer()]);
    const queueUrl = sqs.queueUrl("datastreamIncomingQueue-test");
    const tableSettings = Object.fromEntries(
      (Object.keys(tables) as TableName[]).map((name) => [tables[name].configKey, dynamo.tableNames[name]]),
    );
    const environment = {
      STAGE: "test",
      AWS_REGION: "us-east-1",
      BUCKET_NAME: bucket,
      S3_ENDPOINT: s3.endpoint,
      DYNAMODB_ENDPOINT: dynamo.endpoint,
      SQS_ENDPOINT: sqs.endpoint,
      DATASTREAM_QUEUE_URL: queueUrl,
      // Without a test database the pool is created but never connects.
      DATABASE_URL: options.database?.url ?? "postgresql://postgres@127.0.0.1:1/unused",
      ...tableSettings,
      ...options.settings,
    };
    started = { s3, dynamo, sqs, queueUrl, environment };
    defaultContext = contextWith({});
  });

  afterAll(async () => {
    for (const ctx of contexts) {
      closeClients(ctx);
      // The test database's pool belongs to useTestDatabase; only pools made here are closed here.
      if (!options.database) await ctx.db.destroy();
    }
    await Promise.all([started?.s3.close(), started?.dynamo.close(), started?.sqs.close()]);
  });

  return {
    get s3() {
      return get().s3;
    },
    get dynamo() {
      return get().dynamo;
    },
    get sqs() {
      return get().sqs;
    },
    get queueUrl() {
      return get().queueUrl;
    },
    get ctx() {
      if (!defaultContext) throw new Error("useServices: the context exists only from beforeAll on");
      return defaultContext;
    },
    contextWith,
    bucket,
  };
}
