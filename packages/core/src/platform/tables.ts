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
    | "SITE_TOKENS_TABLE"
    | "ANONYMOUS_UPLOADS_TABLE"
    | "QUARANTINE_TABLE";
  /** The name the replaced system used (and the default for the local archive). */
  baseName: string;
  partitionKey: KeyAttribute;
  sortKey?: KeyAttribute;
  /** Epoch seconds after which DynamoDB may delete the item (and reads must no longer show it). */
  ttlAttribute?: string;
  /** The expiration tracker's deletions drive the expire function (it reads each removal's old image). */
  stream?: "NEW_AND_OLD_IMAGES";
  globalIndexes?: TableIndex[];
}

/** The TTL attribute of the archive's own tables; the running system's tables keep their own names. */
export const TTL_ATTRIBUTE = "expires_at";

export const tables = {
  // The first three are the running system's tables (CONTRACTS.md): production keeps using them, so every stage has
  // exactly their keys, TTL attributes and stream, and no index (an index would be an alteration prod cannot make).
  uploadLog: {
    configKey: "UPLOAD_LOG_TABLE",
    baseName: "recent-uploads-log",
    partitionKey: { name: "site", type: "S" },
    // Epoch seconds with milliseconds (and a per-event offset below them): two uploads in one second keep two items.
    sortKey: { name: "upload_timestamp_s", type: "N" },
    ttlAttribute: "expire_timestamp_s",
  },
  expirations: {
    configKey: "EXPIRATION_TABLE",
    baseName: "data-expiration-tracker",
    // The base filename alone, as the replaced service keyed it; s3_directory says which directory it expires.
    partitionKey: { name: "pk", type: "S" },
    ttlAttribute: "expiration_timestamp_s",
    stream: "NEW_AND_OLD_IMAGES",
  },
  infoImages: {
    configKey: "INFO_IMAGES_TABLE",
    baseName: "info-images",
    // "{site}#metadata" holds channel1..3 = base filename; "{site}#{n}" holds channel n's current image.
    partitionKey: { name: "pk", type: "S" },
    ttlAttribute: "expiration_timestamp",
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
  anonymousUploads: {
    configKey: "ANONYMOUS_UPLOADS_TABLE",
    baseName: "anonymous-uploads",
    // One item per site that uploaded without a token: upload_count, first_seen_at, last_seen_at, last_object_key.
    partitionKey: { name: "site", type: "S" },
  },
  quarantine: {
    configKey: "QUARANTINE_TABLE",
    baseName: "object-quarantine",
    // One item per object ingestion refused (quarantine/quarantine.ts); `site` is absent when the name gives none.
    partitionKey: { name: "object_key", type: "S" },
    globalIndexes: [{ indexName: "by-site", partitionKey: { name: "site", type: "S" }, sortKey: { name: "quarantined_at", type: "S" } }],
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
