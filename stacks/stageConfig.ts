import { RETENTION } from "../packages/core/src/deliveries/retention";

/**
 * Per-stage settings: the one place a stage differs from another. Stacks read these; nothing else decides per stage.
 */

/** Production keeps the bucket it has always had; every other stage owns a fresh one. */
export type BucketSetting = { kind: "existing"; name: string } | { kind: "new" };

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

/** The websocket datastreamer owns `datastreamIncomingQueue-<stage>`; stages without one get a stand-in queue. */
export type DatastreamSetting = { kind: "existing"; name: string } | { kind: "existing"; arn: string } | { kind: "new" };

/** Alarms go to an existing topic, or to a new one with optional e-mail subscribers. */
export type AlarmTopicSetting = { kind: "existing"; arn: string } | { kind: "new"; emails: string[] };

export interface StageConfig {
  stage: string;
  /** Production data survives `sst remove`; every other stage's data goes with it. */
  retainData: boolean;
  pointInTimeRecovery: boolean;
  bucket: BucketSetting;
  database: DatabaseSetting;
  datastreamQueue: DatastreamSetting;
  alarmTopic: AlarmTopicSetting;
  thumbnailHeight: number;
  uploadLogTtlHours: number;
  infoImageTtlHours: number;
  allskyRetentionDays: number;
  maxUploadBytes: number;
  allowAnonymousUploads: boolean;
  /** Browser origins allowed to call the API and POST to the bucket. */
  corsOrigins: string[];
  /** Concurrent data-ingest invocations: each holds one database connection (pool size 1). */
  ingestDataConcurrency: number;
  /** Concurrent invocations of every other database-using event consumer. */
  consumerConcurrency: number;
}

const shared = {
  pointInTimeRecovery: false,
  thumbnailHeight: 128,
  uploadLogTtlHours: RETENTION.uploadLogHours,
  infoImageTtlHours: RETENTION.infoImageHours,
  allskyRetentionDays: RETENTION.allskyDays,
  maxUploadBytes: 2 * 1024 ** 3,
  allowAnonymousUploads: false,
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
    database: { kind: "existing", secret: "data-archive/prod/database" },
    datastreamQueue: { kind: "existing", name: "datastreamIncomingQueue-prod" },
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
    datastreamQueue: { kind: "existing", name: "datastreamIncomingQueue-dev" },
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

export const APP_NAME = "data-archive";
export const APP_REGION = "us-east-1";
