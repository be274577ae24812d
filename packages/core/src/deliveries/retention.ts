/**
 * Every lifetime of the archive in one place: how long each kind of data is kept. Config defaults, expiration entries,
 * DynamoDB TTLs and the bucket's lifecycle rules all read these; a stage may override the configurable ones. The
 * lifetimes of data/ exposures are data, not code: the `expiry_policies` table (expirations/expiryPolicies.ts).
 */
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

export const RETENTION = {
  /** recent-uploads-log entries (config UPLOAD_LOG_TTL_HOURS). */
  uploadLogHours: 48,
  /** An info-image channel's image (config INFO_IMAGE_TTL_HOURS). */
  infoImageHours: 48,
  /** Allsky exposures (config ALLSKY_RETENTION_DAYS). */
  allskyDays: 30,
  /** One item per S3 object in object-deliveries: long enough to outlast every redelivery of its events. */
  deliveryRecordDays: 14,
  /** Converted downloads under downloads/ (bucket lifecycle rule). */
  downloadsDays: 2,
  /** Uploads to test/, which nothing ingests (bucket lifecycle rule). */
  testUploadsDays: 7,
} as const;

/** Hours → milliseconds, for the configurable lifetimes. */
export const hoursToMs = (hours: number): number => hours * HOUR_MS;
export const daysToMs = (days: number): number => days * DAY_MS;

/** The configurable lifetimes, as a stage sets them. */
export interface LifetimeSettings {
  INFO_IMAGE_TTL_HOURS: number;
  ALLSKY_RETENTION_DAYS: number;
}

/**
 * When an arriving info image or allsky exposure is to be deleted (the stage's lifetimes); data/ lifetimes are the
 * `expiry_policies` table's, which its pipeline reads (ObjectPipeline.expiryOf), so here data/ is kept.
 */
export function expiryOf(
  settings: LifetimeSettings,
  file: { directory: "data" | "info-images" | "allsky" },
  arrivedAt: Date,
): Date | undefined {
  if (file.directory === "info-images") return new Date(arrivedAt.getTime() + hoursToMs(settings.INFO_IMAGE_TTL_HOURS));
  if (file.directory === "allsky") return new Date(arrivedAt.getTime() + daysToMs(settings.ALLSKY_RETENTION_DAYS));
  return undefined;
}
