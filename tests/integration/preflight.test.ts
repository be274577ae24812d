import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { CreateTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  accountReader,
  closeAccountClients,
  createAccountClients,
  type AccountClients,
  type AccountReader,
} from "@archive/core/cutover/accountReader";
import { formatPreflight, runPreflight, type PreflightCheck, type StageExpectations } from "@archive/core/cutover/preflight";
import { tables } from "@archive/core/platform/tables";
import { startS3Server, type LocalS3Server } from "@archive/local/s3Server";
import { preflightExpectations } from "../../scripts/cutoverStage";
import { PRODUCTION_NOTICE_QUEUE, stageConfig } from "../../stacks/stageConfig";
import { useServices } from "../support/services";
import { withRecordedAnswers, type RecordedAnswers } from "../support/recordedAws";

// The emulators answer what they can (the bucket's existence, the tables' keys, a missing table, TTL "DISABLED", a
// queue's URL); recorded answers (tests/fixtures/aws) stand in for the rest: notifications, TTL, streams, secrets.
const services = useServices();
const PROD = stageConfig("prod");
const PROD_BUCKET = PROD.bucket.kind === "existing" ? PROD.bucket.name : "photonranch-001";
const PROD_SECRET = PROD.database.kind === "existing" ? PROD.database.secret : "data-archive/prod/database";

let prodBucket: LocalS3Server;
let clients: AccountClients;
let emulators: AccountReader;

beforeAll(async () => {
  prodBucket = await startS3Server({ bucket: PROD_BUCKET });
  clients = createAccountClients({
    region: "us-east-1",
    s3: prodBucket.endpoint,
    dynamodb: services.dynamo.endpoint,
    sqs: services.sqs.endpoint,
    credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
  });
  emulators = accountReader(clients);
});

afterAll(async () => {
  closeAccountClients(clients);
  await prodBucket.close();
});

/** What production's account answers when everything is in place. */
const PRODUCTION_ANSWERS: RecordedAnswers = {
  getBucketNotificationConfiguration: { [PROD_BUCKET]: "prod-eventbridge-on" },
  describeTimeToLive: {
    "recent-uploads-log": "prod-recent-uploads-log",
    "info-images": "prod-info-images",
    "data-expiration-tracker": "prod-data-expiration-tracker",
  },
  // dynalite keeps no stream: this table's description is production's.
  describeTable: { "data-expiration-tracker": "prod-data-expiration-tracker" },
  describeSecret: { [PROD_SECRET]: "prod-database" },
};

/** Production's answers, some of them replaced. */
function answering(changes: RecordedAnswers = {}): AccountReader {
  const answers: RecordedAnswers = { ...PRODUCTION_ANSWERS };
  for (const action of Object.keys(changes) as (keyof RecordedAnswers)[]) answers[action] = { ...answers[action], ...changes[action] };
  return withRecordedAnswers(emulators, answers);
}

const row = (checks: readonly PreflightCheck[], subject: string, check: string) => checks.find((c) => c.subject === subject && c.check === check);
const noGos = (checks: readonly PreflightCheck[]) => checks.filter((c) => c.verdict === "no-go").map((c) => `${c.subject} ${c.check}`);

describe("preflight of the production stage", () => {
  it("says GO when the account holds the bucket, the three tables, the queue and the secret as prod expects them", async () => {
    // Act
    const report = await runPreflight(answering(), preflightExpectations(PROD));

    // Assess
    expect(noGos(report.checks)).toEqual([]);
    expect(report.go).toBe(true);
    expect(report.checks.map((c) => `${c.subject} ${c.check}`)).toEqual([
      `bucket ${PROD_BUCKET} exists`,
      `bucket ${PROD_BUCKET} notifications`,
      `bucket ${PROD_BUCKET} EventBridge`,
      "table recent-uploads-log keys",
      "table recent-uploads-log TTL",
      "table info-images keys",
      "table info-images TTL",
      "table data-expiration-tracker keys",
      "table data-expiration-tracker TTL",
      "table data-expiration-tracker stream",
      `queue ${PRODUCTION_NOTICE_QUEUE} exists`,
      `secret ${PROD_SECRET} exists`,
    ]);
    expect(row(report.checks, "table recent-uploads-log", "keys")?.detail).toContain("site (S) + upload_timestamp_s (N)");
    expect(row(report.checks, "table data-expiration-tracker", "stream")?.detail).toContain("NEW_AND_OLD_IMAGES");
    expect(row(report.checks, `bucket ${PROD_BUCKET}`, "notifications")?.detail).toContain("photonranch-data-prod-handleS3Upload");
    expect(formatPreflight(report)).toMatch(/\nGO: stage prod finds everything it expects$/);
  });

  it("says NO-GO when the bucket does not send its events to EventBridge", async () => {
    // Act
    const report = await runPreflight(
      answering({ getBucketNotificationConfiguration: { [PROD_BUCKET]: "prod-eventbridge-off" } }),
      preflightExpectations(PROD),
    );

    // Assess
    expect(report.go).toBe(false);
    expect(noGos(report.checks)).toEqual([`bucket ${PROD_BUCKET} EventBridge`]);
    expect(formatPreflight(report)).toMatch(/NO-GO: 1 of 12 checks failed for stage prod$/);
  });

  it("says NO-GO for a bucket that does not exist (s3rver's own answer)", async () => {
    // Prepare
    const expected: StageExpectations = {
      ...preflightExpectations(PROD),
      bucket: { name: "no-such-bucket", delivery: "eventbridge", ownResourcePrefix: "prod-data-archive-" },
    };

    // Act
    const report = await runPreflight(answering(), expected);

    // Assess
    expect(row(report.checks, "bucket no-such-bucket", "exists")).toMatchObject({ verdict: "no-go", detail: expect.stringContaining("not found") });
    expect(row(report.checks, "bucket no-such-bucket", "notifications")?.verdict).toBe("no-go");
  });

  it("says NO-GO for a table with other keys, a missing table, TTL off and no stream (dynalite's own answers)", async () => {
    // Prepare: the upload log as an earlier version of the archive keyed it
    const client = new DynamoDBClient({ region: "us-east-1", endpoint: services.dynamo.endpoint, credentials: { accessKeyId: "l", secretAccessKey: "l" } });
    await client.send(
      new CreateTableCommand({
        TableName: "recent-uploads-log-by-upload-id",
        BillingMode: "PAY_PER_REQUEST",
        AttributeDefinitions: [
          { AttributeName: "site", AttributeType: "S" },
          { AttributeName: "upload_id", AttributeType: "S" },
        ],
        KeySchema: [
          { AttributeName: "site", KeyType: "HASH" },
          { AttributeName: "upload_id", KeyType: "RANGE" },
        ],
      }),
    );
    client.destroy();
    const renamed: Record<string, string> = { "recent-uploads-log": "recent-uploads-log-by-upload-id", "info-images": "no-such-table" };
    const prod = preflightExpectations(PROD);
    const expected: StageExpectations = { ...prod, tables: prod.tables.map((table) => ({ ...table, name: renamed[table.name] ?? table.name })) };

    // Act: no recorded TTL or description this time
    const report = await runPreflight(withRecordedAnswers(emulators, { describeSecret: PRODUCTION_ANSWERS.describeSecret }), expected);

    // Assess
    expect(row(report.checks, "table recent-uploads-log-by-upload-id", "keys")?.detail).toBe(
      "expected site (S) + upload_timestamp_s (N), found site (S) + upload_id (S)",
    );
    expect(row(report.checks, "table no-such-table", "keys")).toMatchObject({ verdict: "no-go", detail: "not found (ResourceNotFoundException)" });
    expect(row(report.checks, "table data-expiration-tracker", "keys")?.verdict).toBe("go");
    expect(row(report.checks, "table data-expiration-tracker", "TTL")?.detail).toBe("expected ENABLED on expiration_timestamp_s, found DISABLED");
    expect(row(report.checks, "table data-expiration-tracker", "stream")?.detail).toBe("expected a NEW_AND_OLD_IMAGES stream, found none");
    expect(report.go).toBe(false);
  });

  it("says NO-GO for a stream without the images the expiry needs", async () => {
    // Act
    const report = await runPreflight(
      answering({ describeTable: { "data-expiration-tracker": "keys-only-stream-data-expiration-tracker" } }),
      preflightExpectations(PROD),
    );

    // Assess
    expect(noGos(report.checks)).toEqual(["table data-expiration-tracker stream"]);
    expect(row(report.checks, "table data-expiration-tracker", "stream")?.detail).toBe("expected NEW_AND_OLD_IMAGES, found KEYS_ONLY");
  });

  it("says NO-GO when the notice queue is missing or the database secret is missing or being deleted", async () => {
    // Act
    const missing = await runPreflight(
      answering({ getQueueUrl: { [PRODUCTION_NOTICE_QUEUE]: "not-found" }, describeSecret: { [PROD_SECRET]: "not-found" } }),
      preflightExpectations(PROD),
    );
    const deleting = await runPreflight(answering({ describeSecret: { [PROD_SECRET]: "scheduled-for-deletion" } }), preflightExpectations(PROD));

    // Assess
    expect(noGos(missing.checks)).toEqual([`queue ${PRODUCTION_NOTICE_QUEUE} exists`, `secret ${PROD_SECRET} exists`]);
    expect(row(missing.checks, `queue ${PRODUCTION_NOTICE_QUEUE}`, "exists")?.detail).toBe("not found (QueueDoesNotExist)");
    expect(row(deleting.checks, `secret ${PROD_SECRET}`, "exists")?.detail).toBe("scheduled for deletion (2024-03-20T12:00:00.000Z): restore it first");
  });

  it("says NO-GO when the stage's own notifications would overlap another owner's on an archive prefix", async () => {
    // Prepare: a stage that subscribes the bucket's notifications itself
    const expected: StageExpectations = {
      ...preflightExpectations(PROD),
      bucket: { name: PROD_BUCKET, delivery: "notifications", ownResourcePrefix: "prod-data-archive-" },
    };

    // Act
    const report = await runPreflight(answering(), expected);

    // Assess
    const notifications = row(report.checks, `bucket ${PROD_BUCKET}`, "notifications");
    expect(notifications?.verdict).toBe("no-go");
    expect(notifications?.detail).toContain("data/ → arn:aws:lambda:us-east-1:123456789012:function:photonranch-data-prod-handleS3Upload");
    expect(row(report.checks, `bucket ${PROD_BUCKET}`, "EventBridge")?.verdict).toBe("skip");
  });
});

describe("what a stage expects", () => {
  it("prod expects the shared bucket through EventBridge, the running system's tables as tables.ts shapes them, its queue and secret", () => {
    // Act
    const expected = preflightExpectations(PROD);

    // Assess
    expect(expected.bucket).toEqual({ name: PROD_BUCKET, delivery: "eventbridge", ownResourcePrefix: "prod-data-archive-" });
    expect(expected.tables).toEqual([
      { name: "recent-uploads-log", partitionKey: tables.uploadLog.partitionKey, sortKey: tables.uploadLog.sortKey, ttlAttribute: "expire_timestamp_s" },
      { name: "info-images", partitionKey: { name: "pk", type: "S" }, ttlAttribute: "expiration_timestamp" },
      { name: "data-expiration-tracker", partitionKey: { name: "pk", type: "S" }, ttlAttribute: "expiration_timestamp_s", stream: "NEW_AND_OLD_IMAGES" },
    ]);
    expect(expected.queue).toEqual({ name: PRODUCTION_NOTICE_QUEUE });
    expect(expected.databaseSecret).toBe(PROD_SECRET);
  });

  it("a stage whose stack creates everything expects nothing, and preflight says GO with skips", async () => {
    // Act
    const report = await runPreflight(emulators, preflightExpectations(stageConfig("alice")));

    // Assess
    expect(report.go).toBe(true);
    expect(report.checks.every((c) => c.verdict === "skip")).toBe(true);
  });
});

describe("npm run preflight", () => {
  const run = (args: string[], env: Record<string, string> = {}) =>
    promisify(execFile)(process.execPath, ["--import", "tsx", "scripts/preflight.ts", ...args], {
      env: {
        PATH: process.env.PATH ?? "",
        AWS_ACCESS_KEY_ID: "S3RVER",
        AWS_SECRET_ACCESS_KEY: "S3RVER",
        AWS_REGION: "us-east-1",
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
        AWS_MAX_ATTEMPTS: "1",
        ...env,
      },
    }).then(
      ({ stdout }) => ({ code: 0, stdout, stderr: "" }),
      (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
    );

  it("prints the go/no-go table and exits 1 on a no-go (the emulators cannot show notifications or secrets)", async () => {
    // Act
    const result = await run(["--stage", "prod"], { S3_ENDPOINT: prodBucket.endpoint, DYNAMODB_ENDPOINT: services.dynamo.endpoint, SQS_ENDPOINT: services.sqs.endpoint });

    // Assess
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(new RegExp(`^bucket ${PROD_BUCKET} +exists +go`, "m"));
    expect(result.stdout).toMatch(/^table recent-uploads-log +keys +go/m);
    expect(result.stdout).toMatch(/^table recent-uploads-log +TTL +NO-GO +expected ENABLED on expire_timestamp_s, found DISABLED/m);
    expect(result.stdout).toMatch(/\nNO-GO: \d+ of 12 checks failed for stage prod\n$/);
  });

  it("exits 0 with GO for a stage that expects nothing of the account, and 2 without --stage", async () => {
    // Act
    const [personal, usage] = await Promise.all([run(["--stage", "alice"]), run([])]);

    // Assess
    expect(personal.code).toBe(0);
    expect(personal.stdout).toContain("GO: stage alice finds everything it expects");
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("usage: npm run preflight -- --stage <stage>");
  });
});
