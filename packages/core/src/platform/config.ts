import { z } from "zod";
import { INGEST_MAX_RECEIVE_COUNT } from "../deliveries/pipelines";
import { RETENTION } from "../deliveries/retention";

/**
 * Every setting the archive reads from its environment, validated once per process by the entry point (a Lambda
 * handler module, the local archive, a script) and then passed on in the ArchiveContext. `configFromEnvironment` is
 * the one reader of process.env; everything else takes the parsed config.
 */
const booleanFlag = z
  .enum(["true", "false", "1", "0", ""])
  .transform((value) => value === "true" || value === "1");

const optionalUrl = z.string().url().optional();

/**
 * Uploads without a site token: "false" never; "true" always (the local archive); "until-site-token" per site until
 * that site has an active token (production while the sites' scripts move to tokens).
 */
export type AnonymousUploadsSetting = "false" | "true" | "until-site-token";
const anonymousUploadsSetting = z.union([
  z.literal("until-site-token"),
  booleanFlag.transform((allowed): AnonymousUploadsSetting => (allowed ? "true" : "false")),
]);

export const configSchema = z.object({
  STAGE: z.string().min(1).default("local"),
  AWS_REGION: z.string().min(1).default("us-east-1"),

  BUCKET_NAME: z.string().min(1),

  /** Postgres: a URL (local, tests) or a Secrets Manager secret holding host/port/username/password/dbname (AWS). */
  DATABASE_URL: z.string().min(1).optional(),
  DATABASE_SECRET_ARN: z.string().min(1).optional(),
  /** Connections per process; Lambda keeps this at 1 so concurrency caps the total. */
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(100).default(1),
  /** The schema every connection works in (its whole search_path): a shadow stage's own, away from the live tables. */
  DATABASE_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, "a lower-case Postgres identifier")
    .default("public"),

  UPLOAD_LOG_TABLE: z.string().min(1).default("recent-uploads-log"),
  EXPIRATION_TABLE: z.string().min(1).default("data-expiration-tracker"),
  INFO_IMAGES_TABLE: z.string().min(1).default("info-images"),
  ALLSKY_TABLE: z.string().min(1).default("allsky-images"),
  OBJECT_DELIVERIES_TABLE: z.string().min(1).default("object-deliveries"),
  SITE_TOKENS_TABLE: z.string().min(1).default("site-tokens"),

  /** The queue the stage's datastreamer reads (CONTRACTS.md, Notices). */
  DATASTREAM_QUEUE_URL: z.string().url(),
  /** Off in shadow mode: deliveries are still claimed and recorded, but no notice reaches the queue. */
  SEND_NOTICES: booleanFlag.default("true"),

  THUMBNAIL_HEIGHT: z.coerce.number().int().min(8).max(2048).default(128),
  /**
   * Previews from FITS: the queue a FITS file's arrival schedules its exposure's preview check on (unset: no previews,
   * as in shadow mode, whose bucket is the running system's), and how long a medium jpg may take to come before one
   * is made from the FITS image (SQS allows at most 900 s of delay).
   */
  PREVIEWS_QUEUE_URL: z.string().url().optional(),
  FITS_PREVIEW_DELAY_SECONDS: z.coerce.number().int().min(0).max(900).default(300),
  UPLOAD_LOG_TTL_HOURS: z.coerce.number().positive().default(RETENTION.uploadLogHours),
  INFO_IMAGE_TTL_HOURS: z.coerce.number().positive().default(RETENTION.infoImageHours),
  ALLSKY_RETENTION_DAYS: z.coerce.number().positive().default(RETENTION.allskyDays),

  MAX_UPLOAD_BYTES: z.coerce.number().int().positive().default(2 * 1024 ** 3),
  UPLOAD_URL_EXPIRES_SECONDS: z.coerce.number().int().min(10).max(3600).default(300),
  /** Links the read API returns (jpgs of exposures and info images): 7 days, as the frontend caches them. */
  IMAGE_URL_EXPIRES_SECONDS: z.coerce.number().int().min(10).max(604800).default(604800),
  /** Links POST /download and /downloadzip answer: 5 days. */
  DOWNLOAD_URL_EXPIRES_SECONDS: z.coerce.number().int().min(10).max(604800).default(432000),
  ALLOW_ANONYMOUS_UPLOADS: anonymousUploadsSetting.default("false"),
  /** Sites that uploaded without a token: count and last time, per site (see ALLOW_ANONYMOUS_UPLOADS). */
  ANONYMOUS_UPLOADS_TABLE: z.string().min(1).default("anonymous-uploads"),
  /** Objects ingestion refused: key, site, reason, error, when and how often (quarantine/quarantine.ts). */
  QUARANTINE_TABLE: z.string().min(1).default("object-quarantine"),
  /** The ingest queues' maxReceiveCount: a retryable failure on this receive is dead-lettered, so it is quarantined. */
  INGEST_MAX_RECEIVE_COUNT: z.coerce.number().int().min(1).default(INGEST_MAX_RECEIVE_COUNT),
  /** The ingest queue of each prefix, for re-ingestion (POST /reingest, the reconciler); unset where nothing re-ingests. */
  DATA_INGEST_QUEUE_URL: optionalUrl,
  INFO_IMAGES_INGEST_QUEUE_URL: optionalUrl,
  ALLSKY_INGEST_QUEUE_URL: optionalUrl,
  /** The reconciler leaves objects younger than this alone: their events may still be on their way. */
  RECONCILE_GRACE_MINUTES: z.coerce.number().min(0).default(15),
  /** POST /reconcile stops beginning day prefixes after this long (the API function's timeout); unset, never. */
  RECONCILE_API_BUDGET_SECONDS: z.coerce.number().positive().optional(),

  /** An exposure not complete this long after it was first seen (announced or its first file) is stuck. */
  STUCK_AFTER_MINUTES: z.coerce.number().positive().default(30),
  /** The stage's EventBridge bus the exposure-archived event goes to; unset, no event is published. */
  EVENT_BUS_NAME: z.string().min(1).optional(),

  /** Structured logs and metrics: the service they are filed under. */
  POWERTOOLS_SERVICE_NAME: z.string().min(1).default("data-archive"),
  POWERTOOLS_METRICS_NAMESPACE: z.string().min(1).default("DataArchive"),
  /** The log level; unset, Powertools' own default (POWERTOOLS_LOG_LEVEL, else INFO) applies. */
  LOG_LEVEL: z.enum(["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "SILENT", "CRITICAL"]).optional(),

  /** Only set locally and in tests: S3-, DynamoDB- and SQS-compatible endpoints on this machine. */
  S3_ENDPOINT: optionalUrl,
  /** The endpoint presigned URLs are made for, when clients reach S3 by another address than the functions do. */
  S3_PUBLIC_ENDPOINT: optionalUrl,
  DYNAMODB_ENDPOINT: optionalUrl,
  SQS_ENDPOINT: optionalUrl,
  EVENTBRIDGE_ENDPOINT: optionalUrl,
});

export type ArchiveConfig = z.infer<typeof configSchema>;
/** The configuration as variables (strings), as stacks and the local archive write it for the functions they run. */
export type ArchiveEnvironment = { [K in keyof ArchiveConfig]?: string };

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** Parses an environment; the error names every missing or bad variable and why. */
export function parseConfig(env: Record<string, string | undefined>): ArchiveConfig {
  const result = configSchema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
    throw new ConfigError(`invalid archive configuration: ${problems.join("; ")}`);
  }
  const config = result.data;
  if (!config.DATABASE_URL && !config.DATABASE_SECRET_ARN) {
    throw new ConfigError("invalid archive configuration: DATABASE_URL or DATABASE_SECRET_ARN must be set");
  }
  return config;
}

/** This process's configuration: the one place process.env is read. */
export function configFromEnvironment(): ArchiveConfig {
  return parseConfig(process.env);
}
