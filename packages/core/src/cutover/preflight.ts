import { z } from "zod";
import { INGEST_ROUTES } from "../deliveries/pipelines";
import type { KeyAttribute } from "../platform/tables";
import type { AccountReader, QueueRef } from "./accountReader";

/**
 * Preflight: what a stage expects to find in the account (the bucket it shares, its notifications and EventBridge
 * setting, the running system's tables, the notice queue, the database secret), checked with read-only calls before a
 * deploy or a switch. Every check is a row of a go/no-go table; a check that cannot be made is a no-go.
 */
export type Verdict = "go" | "no-go" | "skip";

export interface PreflightCheck {
  /** What is checked: "bucket photonranch-001", "table recent-uploads-log". */
  subject: string;
  check: string;
  verdict: Verdict;
  detail: string;
}

export interface PreflightReport {
  stage: string;
  checks: PreflightCheck[];
  go: boolean;
}

/** How object-created events reach the stage's queues: EventBridge rules, or the bucket's own notifications. */
export type ObjectEventDelivery = "eventbridge" | "notifications";

export interface ExpectedBucket {
  name: string;
  delivery: ObjectEventDelivery;
  /** Names of the stage's own resources start with this (`prod-data-archive-`): their notifications are not conflicts. */
  ownResourcePrefix: string;
}

export type StreamView = "KEYS_ONLY" | "NEW_IMAGE" | "OLD_IMAGE" | "NEW_AND_OLD_IMAGES";

/** An existing table the stage uses by name, with the shape its code reads and writes (platform/tables.ts). */
export interface ExpectedTable {
  name: string;
  partitionKey: KeyAttribute;
  sortKey?: KeyAttribute;
  ttlAttribute?: string;
  /** The images its stream must carry at least. */
  stream?: StreamView;
}

/** What a stage expects of the account; a resource left out is created by the stage's stack (a "skip" row). */
export interface StageExpectations {
  stage: string;
  bucket?: ExpectedBucket;
  tables: ExpectedTable[];
  queue?: QueueRef;
  databaseSecret?: string;
}

const NOT_FOUND_ERRORS = new Set([
  "NotFound",
  "NoSuchBucket",
  "ResourceNotFoundException",
  "QueueDoesNotExist",
  "AWS.SimpleQueueService.NonExistentQueue",
]);
const ACCESS_DENIED_ERRORS = new Set(["AccessDenied", "AccessDeniedException", "Forbidden", "UnauthorizedOperation"]);

function describeFailure(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (NOT_FOUND_ERRORS.has(error.name)) return `not found (${error.name})`;
  if (ACCESS_DENIED_ERRORS.has(error.name)) return `access denied (${error.name}): these credentials cannot check it`;
  return `${error.name}: ${error.message}`;
}

const go = (subject: string, check: string, detail: string): PreflightCheck => ({ subject, check, verdict: "go", detail });
const noGo = (subject: string, check: string, detail: string): PreflightCheck => ({ subject, check, verdict: "no-go", detail });
const skip = (subject: string, check: string, detail: string): PreflightCheck => ({ subject, check, verdict: "skip", detail });

/** One call's answer, parsed; a failed call or an answer of another shape is a no-go row saying why. */
async function answer<T>(
  subject: string,
  check: string,
  call: () => Promise<unknown>,
  schema: z.ZodType<T, z.ZodTypeDef, unknown>,
): Promise<{ ok: true; value: T } | { ok: false; row: PreflightCheck }> {
  let raw: unknown;
  try {
    raw = await call();
  } catch (error) {
    return { ok: false, row: noGo(subject, check, describeFailure(error)) };
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) return { ok: false, row: noGo(subject, check, `unexpected answer: ${parsed.error.issues[0]?.message ?? "?"}`) };
  return { ok: true, value: parsed.data };
}

// ---- the bucket

const filterRulesSchema = z
  .object({ Key: z.object({ FilterRules: z.array(z.object({ Name: z.string().optional(), Value: z.string().optional() })).optional() }).optional() })
  .optional();
const notificationFields = { Events: z.array(z.string()).default([]), Filter: filterRulesSchema };
const notificationConfigurationSchema = z.object({
  TopicConfigurations: z.array(z.object({ TopicArn: z.string(), ...notificationFields })).default([]),
  QueueConfigurations: z.array(z.object({ QueueArn: z.string(), ...notificationFields })).default([]),
  LambdaFunctionConfigurations: z.array(z.object({ LambdaFunctionArn: z.string(), ...notificationFields })).default([]),
  EventBridgeConfiguration: z.object({}).passthrough().optional(),
});

interface DirectNotification {
  target: string;
  events: string[];
  prefix: string;
}

function directNotifications(configuration: z.infer<typeof notificationConfigurationSchema>): DirectNotification[] {
  const prefixOf = (filter: z.infer<typeof filterRulesSchema>) =>
    filter?.Key?.FilterRules?.find((rule) => rule.Name?.toLowerCase() === "prefix")?.Value ?? "";
  return [
    ...configuration.TopicConfigurations.map((c) => ({ target: c.TopicArn, events: c.Events, prefix: prefixOf(c.Filter) })),
    ...configuration.QueueConfigurations.map((c) => ({ target: c.QueueArn, events: c.Events, prefix: prefixOf(c.Filter) })),
    ...configuration.LambdaFunctionConfigurations.map((c) => ({
      target: c.LambdaFunctionArn,
      events: c.Events,
      prefix: prefixOf(c.Filter),
    })),
  ];
}

const describeNotification = (n: DirectNotification) => `${n.prefix || "(every key)"} → ${n.target} (${n.events.join(", ")})`;

/** S3 refuses two notifications whose prefixes overlap for the same event type. */
function conflictsWithArchive(notification: DirectNotification, ownResourcePrefix: string): boolean {
  const resourceName = notification.target.split(":").pop() ?? "";
  if (resourceName.startsWith(ownResourcePrefix)) return false;
  const createsObjects = notification.events.some((event) => event === "s3:ObjectCreated:*" || event.startsWith("s3:ObjectCreated:"));
  const overlaps = INGEST_ROUTES.some((route) => route.prefix.startsWith(notification.prefix) || notification.prefix.startsWith(route.prefix));
  return createsObjects && overlaps;
}

async function checkBucket(account: AccountReader, bucket: ExpectedBucket): Promise<PreflightCheck[]> {
  const subject = `bucket ${bucket.name}`;
  const exists = await answer(subject, "exists", () => account.headBucket(bucket.name), z.unknown());
  const configuration = await answer(
    subject,
    "notifications",
    () => account.getBucketNotificationConfiguration(bucket.name),
    notificationConfigurationSchema,
  );
  const rows = [exists.ok ? go(subject, "exists", "reachable with these credentials") : exists.row];
  if (!configuration.ok) {
    return [...rows, configuration.row, noGo(subject, "EventBridge", "unknown: the notification configuration could not be read")];
  }
  const notifications = directNotifications(configuration.value);
  const listed = notifications.length === 0 ? "none" : notifications.map(describeNotification).join("; ");
  if (bucket.delivery === "eventbridge") {
    rows.push(go(subject, "notifications", `left as they are (the old service's): ${listed}`));
    rows.push(
      configuration.value.EventBridgeConfiguration
        ? go(subject, "EventBridge", "on: every object event reaches EventBridge, whose rules feed the archive's queues")
        : noGo(
            subject,
            "EventBridge",
            "off: the archive's rules receive nothing until it is on (the stage's deploy turns it on); by hand: put the existing " +
              "configuration back with \"EventBridgeConfiguration\": {} added (docs/cutover.md), which leaves the old notifications as they are",
          ),
    );
    return rows;
  }
  const conflicts = notifications.filter((n) => conflictsWithArchive(n, bucket.ownResourcePrefix));
  rows.push(
    conflicts.length === 0
      ? go(subject, "notifications", `no conflict with the archive's prefixes; present: ${listed}`)
      : noGo(
          subject,
          "notifications",
          `S3 refuses a second notification for an overlapping prefix; these must go first: ${conflicts.map(describeNotification).join("; ")}`,
        ),
  );
  rows.push(skip(subject, "EventBridge", "not used: the stage's queues get the bucket's own notifications"));
  return rows;
}

// ---- the tables

const tableDescriptionSchema = z.object({
  Table: z.object({
    TableName: z.string(),
    TableStatus: z.string(),
    KeySchema: z.array(z.object({ AttributeName: z.string(), KeyType: z.enum(["HASH", "RANGE"]) })),
    AttributeDefinitions: z.array(z.object({ AttributeName: z.string(), AttributeType: z.string() })),
    StreamSpecification: z.object({ StreamEnabled: z.boolean(), StreamViewType: z.string().optional() }).optional(),
    LatestStreamArn: z.string().optional(),
  }),
});
const timeToLiveSchema = z.object({
  TimeToLiveDescription: z.object({ TimeToLiveStatus: z.string(), AttributeName: z.string().optional() }),
});

const describeKey = (key: KeyAttribute | undefined) => (key ? `${key.name} (${key.type})` : "none");
const describeKeys = (partition: KeyAttribute | undefined, sort: KeyAttribute | undefined) =>
  sort ? `${describeKey(partition)} + ${describeKey(sort)}` : describeKey(partition);

const STREAM_IMAGES: Record<StreamView, readonly string[]> = {
  KEYS_ONLY: [],
  NEW_IMAGE: ["new"],
  OLD_IMAGE: ["old"],
  NEW_AND_OLD_IMAGES: ["new", "old"],
};

function isStreamView(value: string | undefined): value is StreamView {
  return value !== undefined && value in STREAM_IMAGES;
}

function keyRow(subject: string, expected: ExpectedTable, table: z.infer<typeof tableDescriptionSchema>["Table"]): PreflightCheck {
  const keyOf = (type: "HASH" | "RANGE"): KeyAttribute | undefined => {
    const name = table.KeySchema.find((key) => key.KeyType === type)?.AttributeName;
    const attributeType = table.AttributeDefinitions.find((definition) => definition.AttributeName === name)?.AttributeType;
    return name === undefined ? undefined : { name, type: attributeType === "N" ? "N" : "S" };
  };
  const [partition, sort] = [keyOf("HASH"), keyOf("RANGE")];
  const same = (a: KeyAttribute | undefined, b: KeyAttribute | undefined) => a?.name === b?.name && a?.type === b?.type;
  const found = describeKeys(partition, sort);
  if (!same(partition, expected.partitionKey) || !same(sort, expected.sortKey)) {
    return noGo(subject, "keys", `expected ${describeKeys(expected.partitionKey, expected.sortKey)}, found ${found}`);
  }
  if (table.TableStatus !== "ACTIVE" && table.TableStatus !== "UPDATING") {
    return noGo(subject, "keys", `${found}, but the table is ${table.TableStatus}`);
  }
  return go(subject, "keys", `${found}, ${table.TableStatus}`);
}

function streamRow(subject: string, expected: StreamView, table: z.infer<typeof tableDescriptionSchema>["Table"]): PreflightCheck {
  const view = table.StreamSpecification?.StreamEnabled ? table.StreamSpecification.StreamViewType : undefined;
  if (!isStreamView(view)) return noGo(subject, "stream", `expected a ${expected} stream, found none`);
  const missing = STREAM_IMAGES[expected].filter((image) => !STREAM_IMAGES[view].includes(image));
  return missing.length === 0
    ? go(subject, "stream", `${view}${table.LatestStreamArn ? ` (${table.LatestStreamArn})` : ""}`)
    : noGo(subject, "stream", `expected ${expected}, found ${view}`);
}

function timeToLiveRow(subject: string, expectedAttribute: string, answer: z.infer<typeof timeToLiveSchema>): PreflightCheck {
  const { TimeToLiveStatus: status, AttributeName: attribute } = answer.TimeToLiveDescription;
  // ENABLING is on its way (DynamoDB takes up to an hour); items written meanwhile expire once it is on.
  const enabled = status === "ENABLED" || status === "ENABLING";
  return enabled && attribute === expectedAttribute
    ? go(subject, "TTL", `${status} on ${attribute}`)
    : noGo(subject, "TTL", `expected ENABLED on ${expectedAttribute}, found ${status}${attribute ? ` on ${attribute}` : ""}`);
}

async function checkTable(account: AccountReader, expected: ExpectedTable): Promise<PreflightCheck[]> {
  const subject = `table ${expected.name}`;
  const { ttlAttribute, stream } = expected;
  const [description, timeToLive] = await Promise.all([
    answer(subject, "keys", () => account.describeTable(expected.name), tableDescriptionSchema),
    ttlAttribute === undefined ? undefined : answer(subject, "TTL", () => account.describeTimeToLive(expected.name), timeToLiveSchema),
  ]);
  const rows = [description.ok ? keyRow(subject, expected, description.value.Table) : description.row];
  if (ttlAttribute !== undefined && timeToLive !== undefined) {
    rows.push(timeToLive.ok ? timeToLiveRow(subject, ttlAttribute, timeToLive.value) : timeToLive.row);
  }
  if (stream !== undefined) {
    rows.push(description.ok ? streamRow(subject, stream, description.value.Table) : noGo(subject, "stream", "unknown: the table could not be described"));
  }
  return rows;
}

// ---- the queue and the secret

async function checkQueue(account: AccountReader, queue: QueueRef): Promise<PreflightCheck> {
  const subject = `queue ${queue.name}`;
  const result = await answer(subject, "exists", () => account.getQueueUrl(queue), z.object({ QueueUrl: z.string() }));
  return result.ok ? go(subject, "exists", result.value.QueueUrl) : result.row;
}

async function checkSecret(account: AccountReader, secretId: string): Promise<PreflightCheck> {
  const subject = `secret ${secretId}`;
  const result = await answer(
    subject,
    "exists",
    () => account.describeSecret(secretId),
    z.object({ ARN: z.string(), DeletedDate: z.union([z.date(), z.string()]).optional() }),
  );
  if (!result.ok) return result.row;
  const { ARN, DeletedDate } = result.value;
  return DeletedDate === undefined
    ? go(subject, "exists", ARN)
    : noGo(subject, "exists", `scheduled for deletion (${new Date(DeletedDate).toISOString()}): restore it first`);
}

/** Every check of the stage's expectations against the account, in a stable order. */
export async function runPreflight(account: AccountReader, expected: StageExpectations): Promise<PreflightReport> {
  const created = (what: string) => [skip(what, "exists", "created by the stage's stack")];
  const groups = await Promise.all([
    expected.bucket ? checkBucket(account, expected.bucket) : created("bucket"),
    ...(expected.tables.length > 0 ? expected.tables.map((table) => checkTable(account, table)) : [created("tables")]),
    expected.queue ? checkQueue(account, expected.queue).then((row) => [row]) : created("notice queue"),
    expected.databaseSecret ? checkSecret(account, expected.databaseSecret).then((row) => [row]) : created("database"),
  ]);
  const checks = groups.flat();
  return { stage: expected.stage, checks, go: checks.every((row) => row.verdict !== "no-go") };
}

/** The report as a table for a terminal, ending with the verdict. */
export function formatPreflight(report: PreflightReport): string {
  const rows = [
    ["WHAT", "CHECK", "VERDICT", "DETAIL"],
    ...report.checks.map((row) => [row.subject, row.check, row.verdict === "no-go" ? "NO-GO" : row.verdict, row.detail]),
  ];
  const widths = [0, 1, 2].map((column) => Math.max(...rows.map((cells) => cells[column]?.length ?? 0)));
  const lines = rows.map((cells) => cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join("  ").trimEnd());
  const failed = report.checks.filter((row) => row.verdict === "no-go").length;
  const verdict = report.go
    ? `GO: stage ${report.stage} finds everything it expects`
    : `NO-GO: ${failed} of ${report.checks.length} checks failed for stage ${report.stage}`;
  return [`preflight of stage ${report.stage}`, ...lines, "", verdict].join("\n");
}
