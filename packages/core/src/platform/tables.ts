/**
 * The DynamoDB tables' key schemas, TTL attributes and indexes: the one description both the stacks (CDK) and the
 * local archive (dynalite) build their tables from. Names here are logical; each stage's real name comes from config.
 */
export type KeyType = "S" | "N";

export interface KeyAttribute {
  name: string;
  type: KeyType;
}

export interface TableIndex {
  indexName: string;
  partitionKey: KeyAttribute;
  sortKey?: KeyAttribute;
}

export interface TableDefinition {
  /** The config variable that holds the stage's table name. */
  configKey:
    | "UPLOAD_LOG_TABLE"
    | "EXPIRATION_TABLE"
    | "INFO_IMAGES_TABLE"
    | "ALLSKY_TABLE"
    | "OBJECT_DELIVERIES_TABLE"
    | "SITE_TOKENS_TABLE";
  /** The name the replaced system used (and the default for the local archive). */
  baseName: string;
  partitionKey: KeyAttribute;
  sortKey?: KeyAttribute;
  /** Epoch seconds after which DynamoDB may delete the item (and reads must no longer show it). */
  ttlAttribute?: string;
  /** The expiration tracker's deletions drive the expire function, so it streams old images. */
  stream?: "OLD_IMAGE";
  globalIndexes?: TableIndex[];
}

export const TTL_ATTRIBUTE = "expires_at";

export const tables = {
  uploadLog: {
    configKey: "UPLOAD_LOG_TABLE",
    baseName: "recent-uploads-log",
    partitionKey: { name: "site", type: "S" },
    // "{upload_timestamp_ms}#{filename}#{sequencer}": two uploads in the same second never share a key.
    sortKey: { name: "upload_id", type: "S" },
    ttlAttribute: TTL_ATTRIBUTE,
    globalIndexes: [
      // Every entry carries log_partition = "all", so "recent uploads of all sites" is one query, newest first.
      { indexName: "all-sites", partitionKey: { name: "log_partition", type: "S" }, sortKey: { name: "upload_id", type: "S" } },
    ],
  },
  expirations: {
    configKey: "EXPIRATION_TABLE",
    baseName: "data-expiration-tracker",
    // "{s3_directory}/{base_filename}"
    partitionKey: { name: "expiration_key", type: "S" },
    ttlAttribute: TTL_ATTRIBUTE,
    stream: "OLD_IMAGE",
    globalIndexes: [
      // Every entry carries due_partition = "due", so the sweep queries entries with expires_at <= now.
      { indexName: "by-due-time", partitionKey: { name: "due_partition", type: "S" }, sortKey: { name: TTL_ATTRIBUTE, type: "N" } },
    ],
  },
  infoImages: {
    configKey: "INFO_IMAGES_TABLE",
    baseName: "info-images",
    // "{site}#metadata" holds channel1..3 = base filename; "{site}#{n}" holds channel n's current image.
    partitionKey: { name: "pk", type: "S" },
    ttlAttribute: TTL_ATTRIBUTE,
  },
  allsky: {
    configKey: "ALLSKY_TABLE",
    baseName: "allsky-images",
    partitionKey: { name: "site", type: "S" },
    // "{capture time ISO}#{base_filename}": newest last, so the latest is one reverse query.
    sortKey: { name: "capture_key", type: "S" },
    ttlAttribute: TTL_ATTRIBUTE,
  },
  objectDeliveries: {
    configKey: "OBJECT_DELIVERIES_TABLE",
    baseName: "object-deliveries",
    partitionKey: { name: "object_key", type: "S" },
    ttlAttribute: TTL_ATTRIBUTE,
  },
  siteTokens: {
    configKey: "SITE_TOKENS_TABLE",
    baseName: "site-tokens",
    // SHA-256 of the token, hex: the token itself is never stored.
    partitionKey: { name: "token_hash", type: "S" },
    globalIndexes: [{ indexName: "by-site", partitionKey: { name: "site", type: "S" } }],
  },
} as const satisfies Record<string, TableDefinition>;

export type TableName = keyof typeof tables;

/** The stage's real name of every table, resolved once from the configuration. */
export type StageTableNames = Readonly<Record<TableName, string>>;

export function stageTableNames(config: Readonly<Record<TableDefinition["configKey"], string>>): StageTableNames {
  return Object.fromEntries(
    (Object.keys(tables) as TableName[]).map((name) => [name, config[tables[name].configKey]]),
  ) as Record<TableName, string>;
}
