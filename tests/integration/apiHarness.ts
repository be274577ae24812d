import { execFile } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import { promisify } from "node:util";
import type { APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import type { AwsContext } from "@archive/core/platform/context";
import { presignDownload, presignUpload } from "@archive/core/platform/presign";
import type { HttpApiEvent } from "@archive/functions/lib/http";
import readFixture from "../fixtures/apigw/read-request.json";
import { useTestDatabase } from "../support/database";
import { useServices, type TestServices } from "../support/services";

/** The API tests' world: a fresh database, s3rver with the bucket, dynalite with every table, and the env set. */
export const MAX_UPLOAD_BYTES = 5 * 1024 * 1024;
export const UPLOAD_URL_EXPIRES_SECONDS = 120;

export function useApiServices(): TestServices {
  const database = useTestDatabase();
  return useServices({
    database,
    settings: {
      MAX_UPLOAD_BYTES: String(MAX_UPLOAD_BYTES),
      UPLOAD_URL_EXPIRES_SECONDS: String(UPLOAD_URL_EXPIRES_SECONDS),
      ALLOW_ANONYMOUS_UPLOADS: "false",
    },
  });
}

/** A site no other test uses, so each test owns its rows, tokens and log entries. */
export function uniqueSite(): string {
  return `t${randomBytes(3).toString("hex").slice(0, 5)}`;
}

/** A base filename no other test uses. */
export function uniqueBase(site: string, date = "20240312"): string {
  return `${site}-kb001ms-${date}-${String(randomInt(0, 99_999_999)).padStart(8, "0")}`;
}

export const lambdaContext: Context = {
  callbackWaitsForEmptyEventLoop: true,
  functionName: "archive-test-api",
  functionVersion: "$LATEST",
  invokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:archive-test-api",
  memoryLimitInMB: "256",
  awsRequestId: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
  logGroupName: "/aws/lambda/archive-test-api",
  logStreamName: "2024/03/12/[$LATEST]0123456789abcdef",
  getRemainingTimeInMillis: () => 30_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
};

/** A GET event as API Gateway sends it, for another path and query. */
export function getEvent(rawPath: string, query?: Record<string, string>): HttpApiEvent {
  return {
    ...readFixture,
    routeKey: "ANY /{proxy+}",
    rawPath,
    rawQueryString: new URLSearchParams(query).toString(),
    queryStringParameters: query,
    requestContext: { ...readFixture.requestContext, http: { ...readFixture.requestContext.http, path: rawPath } },
  };
}

export interface JsonReply {
  status: number;
  headers: Record<string, unknown>;
  body: unknown;
}

/** Runs a handler as Lambda would and reads its JSON answer. */
export async function invoke(
  handler: (event: HttpApiEvent, context: Context) => Promise<APIGatewayProxyStructuredResultV2>,
  event: HttpApiEvent,
): Promise<JsonReply> {
  const result = await handler(event, lambdaContext);
  const body: unknown = result.body ? JSON.parse(result.body) : undefined;
  return { status: result.statusCode ?? 200, headers: result.headers ?? {}, body };
}

/** Reads an object back the way a browser would: through a presigned GET. */
export async function readObject(ctx: AwsContext, key: string): Promise<Buffer> {
  const response = await fetch(await presignDownload(ctx, key, "download"));
  if (response.status !== 200) throw new Error(`GET ${key} answered ${response.status}`);
  return Buffer.from(await response.arrayBuffer());
}

/** Stores an object the way a site does: a form POST of a presigned upload's fields plus the file. */
export async function putObject(ctx: AwsContext, key: string, bytes: Buffer): Promise<void> {
  const { url, fields } = await presignUpload(ctx, key);
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  form.append("file", new Blob([bytes]));
  const response = await fetch(url, { method: "POST", body: form });
  if (response.status !== 204) throw new Error(`POST ${key} answered ${response.status}`);
}

/**
 * `npm run tokens -- …` as an operator runs it, with the stage's variables pointing at these services' tables (and a
 * database it never needs); its standard output.
 */
export async function runTokensScript(services: TestServices, args: string[], settings: Record<string, string> = {}): Promise<string> {
  const environment = {
    PATH: process.env.PATH ?? "",
    AWS_ACCESS_KEY_ID: "local",
    AWS_SECRET_ACCESS_KEY: "local",
    AWS_REGION: "us-east-1",
    BUCKET_NAME: services.bucket,
    DATASTREAM_QUEUE_URL: services.queueUrl,
    DATABASE_URL: "postgresql://unused@127.0.0.1:9/unused",
    DYNAMODB_ENDPOINT: services.dynamo.endpoint,
    SITE_TOKENS_TABLE: services.dynamo.tableNames.siteTokens,
    ANONYMOUS_UPLOADS_TABLE: services.dynamo.tableNames.anonymousUploads,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    ...settings,
  };
  const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", "scripts/tokens.ts", ...args], { env: environment });
  return stdout;
}
