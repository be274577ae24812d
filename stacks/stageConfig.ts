import { RETENTION } from "../packages/core/src/deliveries/retention";
import type { TableName } from "../packages/core/src/platform/tables";

/**
 * Per-stage settings: the one place a stage differs from another. Stacks read these; nothing else decides per stage.
 */

/** Production keeps the bucket it has always had; every other stage owns a fresh one. */
export type BucketSetting = { kind: "existing"; name: string } | { kind: "new" };

/**
 * How object-created events reach the ingest queues: the bucket's own notifications (one per prefix; S3 refuses a
 * second one for an overlapping prefix), or S3's EventBridge events through one rule per prefix, which leave the
 * bucket's notifications to whoever owns them. A bucket the stage does not own is always read through EventBridge.
 */
export type ObjectEventsSetting = "notifications" | "eventbridge";

/** The running system's DynamoDB tables (CONTRACTS.md): the old read API and upload route use them too. */
export const RUNNING_SYSTEM_TABLES = ["uploadLog", "infoImages", "expirations"] as const satisfies readonly TableName[];
export type RunningSystemTable = (typeof RUNNING_SYSTEM_TABLES)[number];

/** Production uses the running system's tables by their names (tables.ts `baseName`); other stages create their own. */
export type RunningSystemTablesSetting = { kind: "existing" } | { kind: "new" };

/** The queue production users' browsers are fed from (CONTRACTS.md, Notices); no stage but prod may name it. */
export const PRODUCTION_NOTICE_QUEUE = "datastreamIncomingQueue-dev";
export const PRODUCTION_STAGE = "prod";

/** The Postgres schema a stage in shadow mode writes; the live `images` table is in `public`. */
export const SHADOW_SCHEMA = "archive_shadow";
export const LIVE_SCHEMA = "public";

/** An existing database is reached through its Secrets Manager secret (name or ARN); a new one is an RDS instance. */
export type DatabaseSetting =
  | { kind: "existing"; secret: string }
  | {
      kind: "new";
      instanceClass: "t4g.micro" | "t4g.small" | "t4g.medium";
      allocatedStorageGiB: number;
      maxAllocatedStorageGiB: number;
      multiAz: boolean;
      availabilityZones: [string, string];
    };

/** The queue the stage's datastreamer reads; a stage no datastreamer reads gets a queue of its own, named for it. */
export type DatastreamSetting = { kind: "existing"; name: string } | { kind: "existing"; arn: string } | { kind: "new" };

/** Alarms go to an existing topic, or to a new one with optional e-mail subscribers. */
export type AlarmTopicSetting = { kind: "existing"; arn: string } | { kind: "new"; emails: string[] };

export interface StageConfig {
  stage: string;
  /** Production data survives `sst remove`; every other stage's data goes with it. */
  retainData: boolean;
  pointInTimeRecovery: boolean;
  bucket: BucketSetting;
  objectEvents: ObjectEventsSetting;
  runningSystemTables: RunningSystemTablesSetting;
  /**
   * Shadow mode: every real event is processed, but into shadow tables (created beside the running system's) and the
   * SHADOW_SCHEMA, no notice is sent and nothing expires (the running system deletes the shared objects). Switching
   * is this setting and one deploy, either way.
   */
  shadow: boolean;
  database: DatabaseSetting;
  datastreamQueue: DatastreamSetting;
  alarmTopic: AlarmTopicSetting;
  thumbnailHeight: number;
  uploadLogTtlHours: number;
  infoImageTtlHours: number;
  allskyRetentionDays: number;
  maxUploadBytes: number;
  /**
   * Uploads without a site token: never ("false"), always ("true", the local archive), or per site until that site
   * has an active token ("until-site-token": production during the migration of the site scripts).
   */
  allowAnonymousUploads: "false" | "true" | "until-site-token";
  /** Browser origins allowed to call the API and POST to the bucket. */
  corsOrigins: string[];
  /** Concurrent data-ingest invocations: each holds one database connection (pool size 1). */
  ingestDataConcurrency: number;
  /** Concurrent invocations of every other database-using event consumer. */
  consumerConcurrency: number;
}

const shared = {
  pointInTimeRecovery: false,
  objectEvents: "notifications",
  runningSystemTables: { kind: "new" },
  shadow: false,
  thumbnailHeight: 128,
  uploadLogTtlHours: RETENTION.uploadLogHours,
  infoImageTtlHours: RETENTION.infoImageHours,
  allskyRetentionDays: RETENTION.allskyDays,
  maxUploadBytes: 2 * 1024 ** 3,
  allowAnonymousUploads: "false",
  corsOrigins: ["*"],
  ingestDataConcurrency: 5,
  consumerConcurrency: 2,
} satisfies Partial<StageConfig>;

const newDatabase: DatabaseSetting = {
  kind: "new",
  instanceClass: "t4g.micro",
  allocatedStorageGiB: 20,
  maxAllocatedStorageGiB: 100,
  multiAz: false,
  availabilityZones: ["us-east-1a", "us-east-1b"],
};

const named: Record<string, StageConfig> = {
  prod: {
    ...shared,
    stage: "prod",
    retainData: true,
    pointInTimeRecovery: true,
    bucket: { kind: "existing", name: "photonranch-001" },
    // The old service keeps its notifications on the bucket until its stack is removed.
    objectEvents: "eventbridge",
    runningSystemTables: { kind: "existing" },
    // Beside the old service until the comparison is clean; then false, one deploy (docs/cutover.md).
    shadow: true,
    // The site scripts send no token yet: each site needs one only once it has been issued one.
    allowAnonymousUploads: "until-site-token",
    database: { kind: "existing", secret: "data-archive/prod/database" },
    datastreamQueue: { kind: "existing", name: PRODUCTION_NOTICE_QUEUE },
    alarmTopic: { kind: "new", emails: [] },
    corsOrigins: ["https://www.photonranch.org", "https://photonranch.org"],
    // The t3 production instance allows ~80 connections; the API and other consumers need the rest.
    ingestDataConcurrency: 20,
    consumerConcurrency: 5,
  },
  dev: {
    ...shared,
    stage: "dev",
    retainData: false,
    bucket: { kind: "new" },
    database: newDatabase,
    // Its own queue: the one named datastreamIncomingQueue-dev feeds production users.
    datastreamQueue: { kind: "new" },
    alarmTopic: { kind: "new", emails: [] },
  },
  test: {
    ...shared,
    stage: "test",
    retainData: false,
    bucket: { kind: "new" },
    database: newDatabase,
    datastreamQueue: { kind: "new" },
    alarmTopic: { kind: "new", emails: [] },
  },
};

/** The named stage's settings; any other name is a personal stage: self-contained, disposable, smallest sizes. */
export function stageConfig(stage: string): StageConfig {
  return (
    named[stage] ?? {
      ...shared,
      stage,
      retainData: false,
      bucket: { kind: "new" },
      database: newDatabase,
      datastreamQueue: { kind: "new" },
      alarmTopic: { kind: "new", emails: [] },
    }
  );
}

function namesProductionQueue(setting: DatastreamSetting): boolean {
  if (setting.kind === "new") return false;
  return "name" in setting ? setting.name === PRODUCTION_NOTICE_QUEUE : setting.arn.endsWith(`:${PRODUCTION_NOTICE_QUEUE}`);
}

/** The settings, or an error naming the rule they break: synthesis stops before anything is deployed. */
export function assertStageConfig(config: StageConfig): StageConfig {
  if (config.stage !== PRODUCTION_STAGE && namesProductionQueue(config.datastreamQueue)) {
    throw new Error(`stage ${config.stage} may not send notices to ${PRODUCTION_NOTICE_QUEUE}: production users read it`);
  }
  if (config.bucket.kind === "existing" && config.objectEvents !== "eventbridge") {
    throw new Error(`stage ${config.stage} does not own bucket ${config.bucket.name}: its events come through EventBridge`);
  }
  return config;
}

const appSettings = new WeakMap<object, StageConfig>();

/** Builds an app with the given settings instead of its stage's own (archiveStacks; tests of a switch). */
export function bindStageConfig(app: object, config: StageConfig): void {
  appSettings.set(app, assertStageConfig(config));
}

/** The settings every stack of an app is built with: those bound to it, else its stage's. */
export function stageConfigOf(app: { stage: string }): StageConfig {
  return appSettings.get(app) ?? assertStageConfig(stageConfig(app.stage));
}

export const APP_NAME = "data-archive";
export const APP_REGION = "us-east-1";
