import { afterAll, beforeAll } from "vitest";
import { resetAwsClients } from "@archive/core/aws";
import { resetConfig } from "@archive/core/config";
import { closeDatabase } from "@archive/core/db";
import { tables, type TableName } from "@archive/core/tables";
import { startDynamoServer, type LocalDynamoServer } from "@archive/local/dynamoServer";
import { startS3Server, type LocalS3Server } from "@archive/local/s3Server";
import { startSqsServer, type LocalSqsServer } from "@archive/local/sqsServer";

// Call useServices() at a test file's top level (after useTestDatabase(), whose URL it passes on): s3rver, dynalite
// with every table, and the SQS stand-in start once for the file; the environment points the archive's config and
// clients at them.

export interface TestServices {
  readonly s3: LocalS3Server;
  readonly dynamo: LocalDynamoServer;
  readonly sqs: LocalSqsServer;
  readonly bucket: string;
  readonly queueUrl: string;
}

export interface TestServicesOptions {
  /** The test database's URL, read in beforeAll (useTestDatabase's `url`). */
  databaseUrl?: () => string;
  /** Extra variables, e.g. THUMBNAIL_HEIGHT. */
  env?: Record<string, string>;
}

export function useServices(options: TestServicesOptions = {}): TestServices {
  let started: { s3: LocalS3Server; dynamo: LocalDynamoServer; sqs: LocalSqsServer; queueUrl: string } | undefined;
  const bucket = "archive-test";
  const saved = { ...process.env };

  beforeAll(async () => {
    const [s3, dynamo, sqs] = await Promise.all([startS3Server({ bucket }), startDynamoServer(), startSqsServer()]);
    const queueUrl = sqs.queueUrl("datastreamIncomingQueue-test");
    started = { s3, dynamo, sqs, queueUrl };
    const tableEnv = Object.fromEntries(
      (Object.keys(tables) as TableName[]).map((name) => [tables[name].configKey, dynamo.tableNames[name]]),
    );
    Object.assign(process.env, {
      STAGE: "test",
      AWS_REGION: "us-east-1",
      // s3rver knows only this key pair; dynalite and the SQS stand-in accept any.
      AWS_ACCESS_KEY_ID: "S3RVER",
      AWS_SECRET_ACCESS_KEY: "S3RVER",
      BUCKET_NAME: bucket,
      S3_ENDPOINT: s3.endpoint,
      DYNAMODB_ENDPOINT: dynamo.endpoint,
      SQS_ENDPOINT: sqs.endpoint,
      DATASTREAM_QUEUE_URL: queueUrl,
      DATABASE_URL: options.databaseUrl?.() ?? "postgresql://postgres@127.0.0.1:1/unused",
      ...tableEnv,
      ...options.env,
    });
    resetConfig();
    resetAwsClients();
    await closeDatabase();
  });

  afterAll(async () => {
    await closeDatabase();
    resetAwsClients();
    resetConfig();
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
    await Promise.all([started?.s3.close(), started?.dynamo.close(), started?.sqs.close()]);
  });

  const get = () => {
    if (!started) throw new Error("useServices: the services run only from beforeAll on");
    return started;
  };
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
    bucket,
  };
}
