import { z } from "zod";

/**
 * Every setting the archive reads from its environment, validated once (at cold start in Lambda, at boot locally).
 * Stacks set these variables; the local archive sets them for its embedded services. Nothing else reads process.env.
 */
const booleanFlag = z
  .enum(["true", "false", "1", "0", ""])
  .transform((value) => value === "true" || value === "1");

const optionalUrl = z.string().url().optional();

export const configSchema = z.object({
  STAGE: z.string().min(1).default("local"),
  AWS_REGION: z.string().min(1).default("us-east-1"),

  BUCKET_NAME: z.string().min(1),

  /** Postgres: a URL (local, tests) or a Secrets Manager secret holding host/port/username/password/dbname (AWS). */
  DATABASE_URL: z.string().min(1).optional(),
  DATABASE_SECRET_ARN: z.string().min(1).optional(),
  /** Connections per process; Lambda keeps this at 1 so concurrency caps the total. */
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(100).default(1),

  UPLOAD_LOG_TABLE: z.string().min(1).default("recent-uploads-log"),
  EXPIRATION_TABLE: z.string().min(1).default("data-expiration-tracker"),
  INFO_IMAGES_TABLE: z.string().min(1).default("info-images"),
  ALLSKY_TABLE: z.string().min(1).default("allsky-images"),
  OBJECT_DELIVERIES_TABLE: z.string().min(1).default("object-deliveries"),
  SITE_TOKENS_TABLE: z.string().min(1).default("site-tokens"),

  /** The datastreamer's queue (datastreamIncomingQueue-<stage>). */
  DATASTREAM_QUEUE_URL: z.string().url(),

  THUMBNAIL_HEIGHT: z.coerce.number().int().min(8).max(2048).default(128),
  UPLOAD_LOG_TTL_HOURS: z.coerce.number().positive().default(48),
  INFO_IMAGE_TTL_HOURS: z.coerce.number().positive().default(48),
  ALLSKY_RETENTION_DAYS: z.coerce.number().positive().default(30),

  MAX_UPLOAD_BYTES: z.coerce.number().int().positive().default(2 * 1024 ** 3),
  UPLOAD_URL_EXPIRES_SECONDS: z.coerce.number().int().min(10).max(3600).default(300),
  DOWNLOAD_URL_EXPIRES_SECONDS: z.coerce.number().int().min(10).max(604800).default(3600),
  ALLOW_ANONYMOUS_UPLOADS: booleanFlag.default("false"),

  /** Only set locally and in tests: S3-, DynamoDB- and SQS-compatible endpoints on this machine. */
  S3_ENDPOINT: optionalUrl,
  /** The endpoint presigned URLs are made for, when clients reach S3 by another address than the functions do. */
  S3_PUBLIC_ENDPOINT: optionalUrl,
  DYNAMODB_ENDPOINT: optionalUrl,
  SQS_ENDPOINT: optionalUrl,
});

export type ArchiveConfig = z.infer<typeof configSchema>;

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

let cached: ArchiveConfig | undefined;

/** The process's configuration, read once. */
export function loadConfig(): ArchiveConfig {
  cached ??= parseConfig(process.env);
  return cached;
}

/** For tests and the local archive, which set the environment before first use and may start again. */
export function resetConfig(): void {
  cached = undefined;
}
