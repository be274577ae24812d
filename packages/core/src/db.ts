import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { Kysely, PostgresDialect, type ColumnType, type Generated, type Insertable, type Selectable } from "kysely";
import pg from "pg";
import { z } from "zod";
import { loadConfig, ConfigError, type ArchiveConfig } from "./config";
import { TransientError } from "./errors";
import { logger } from "./logger";
import { IMAGE_HEADER_COLUMNS } from "./imageRecord";

/** The `images` table: the seed's columns (our contract with the frontend's API) plus exposure_time and header_json. */
export interface ImagesTable {
  image_id: Generated<number>;
  base_filename: string;
  site: string | null;
  data_type: string | null;
  capture_date: Date | null;
  sort_date: Date | null;
  right_ascension: number | null;
  declination: number | null;
  altitude: number | null;
  azimuth: number | null;
  /** The whole FITS header as a JSON string, as the frontend's readers expect it. */
  header: string | null;
  filter_used: string | null;
  airmass: number | null;
  exposure_time: number | null;
  user_id: string | null;
  username: string | null;
  fits_01_exists: Generated<boolean>;
  fits_10_exists: Generated<boolean>;
  jpg_medium_exists: Generated<boolean>;
  jpg_small_exists: Generated<boolean>;
  /** `header` as jsonb, computed by Postgres, for keyword queries; never written. */
  header_json: ColumnType<JsonValue | null, never, never>;
}

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface Database {
  images: ImagesTable;
}

/** A row as the store returns it: every column except the jsonb copy of the header. */
export type ImageRow = Omit<Selectable<ImagesTable>, "header_json">;
export type NewImage = Insertable<ImagesTable>;
export type ImageColumn = keyof ImageRow;

export const imageColumns: readonly ImageColumn[] = [
  "image_id",
  "base_filename",
  "site",
  "data_type",
  ...IMAGE_HEADER_COLUMNS,
  "fits_01_exists",
  "fits_10_exists",
  "jpg_medium_exists",
  "jpg_small_exists",
];

const TIMESTAMP_WITHOUT_TIME_ZONE = 1114;
const INT8 = 20;

// Dates are sent as UTC so `timestamp without time zone` columns hold UTC whatever the process's time zone is.
pg.defaults.parseInputDatesAsUTC = true;

/** `timestamp without time zone` holds UTC in this archive; pg's default would read it as local time. */
function parseUtcTimestamp(value: string): Date {
  return new Date(`${value.replace(" ", "T")}Z`);
}

const typeParsers: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: "text" | "binary") => {
    if (oid === TIMESTAMP_WITHOUT_TIME_ZONE) return parseUtcTimestamp;
    // Counts (count(*) is bigint) stay far below 2^53.
    if (oid === INT8) return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format ?? "text");
  }) as pg.CustomTypesConfig["getTypeParser"],
};

export interface DbOptions {
  poolSize?: number;
  ssl?: boolean;
}

function poolConfig(connection: pg.PoolConfig, options: DbOptions): pg.PoolConfig {
  return {
    ...connection,
    max: options.poolSize ?? 10,
    types: typeParsers,
    ...(options.ssl ? { ssl: { rejectUnauthorized: false } } : {}),
  };
}

function logPoolErrors(pool: pg.Pool): pg.Pool {
  // An idle client's connection can drop (server restart, RDS failover); pg replaces it, so we only record it.
  pool.on("error", (error) => logger.warn("idle Postgres connection failed", { error: error.message }));
  return pool;
}

/** A kysely instance over a pg pool; the one place where pg's type parsing is decided. */
export function createDb(url: string, options: DbOptions = {}): Kysely<Database> {
  const pool = logPoolErrors(new pg.Pool(poolConfig({ connectionString: url }, options)));
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

const databaseSecretSchema = z.object({
  host: z.string().min(1),
  port: z.coerce.number().int().positive().default(5432),
  username: z.string().min(1),
  password: z.string().min(1),
  dbname: z.string().min(1).default("postgres"),
});

function parseJsonOrNull(text: string | undefined): unknown {
  try {
    return JSON.parse(text ?? "null");
  } catch (error) {
    logger.error("the database secret is not JSON", { error: error instanceof Error ? error.message : String(error) });
    return null;
  }
}

async function readDatabaseSecret(config: ArchiveConfig, secretArn: string): Promise<pg.PoolConfig> {
  const client = new SecretsManagerClient({ region: config.AWS_REGION });
  let secretString: string | undefined;
  try {
    secretString = (await client.send(new GetSecretValueCommand({ SecretId: secretArn }))).SecretString;
  } catch (error) {
    logger.error("cannot read the database secret", { secretArn, error: error instanceof Error ? error.message : String(error) });
    throw new TransientError("cannot read the database secret", { cause: error });
  } finally {
    client.destroy();
  }
  const parsed = databaseSecretSchema.safeParse(parseJsonOrNull(secretString));
  if (!parsed.success) {
    throw new ConfigError(`database secret ${secretArn} lacks host/port/username/password/dbname`);
  }
  const secret = parsed.data;
  return { host: secret.host, port: secret.port, user: secret.username, password: secret.password, database: secret.dbname };
}

/** A kysely instance whose pool is built on first use from a Secrets Manager secret (SSL on: this is RDS). */
export function createDbFromSecret(config: ArchiveConfig, secretArn: string): Kysely<Database> {
  const options: DbOptions = { poolSize: config.DATABASE_POOL_SIZE, ssl: true };
  const pool = async () => logPoolErrors(new pg.Pool(poolConfig(await readDatabaseSecret(config, secretArn), options)));
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

let instance: Kysely<Database> | undefined;

/** The process's one database, from DATABASE_URL (local, tests) or DATABASE_SECRET_ARN (AWS). */
export function database(): Kysely<Database> {
  if (!instance) {
    const config = loadConfig();
    instance = config.DATABASE_URL
      ? createDb(config.DATABASE_URL, { poolSize: config.DATABASE_POOL_SIZE })
      : config.DATABASE_SECRET_ARN
        ? createDbFromSecret(config, config.DATABASE_SECRET_ARN)
        : undefined;
    if (!instance) throw new ConfigError("DATABASE_URL or DATABASE_SECRET_ARN must be set");
  }
  return instance;
}

/** Closes the process's database (the local archive and tests start again with another configuration). */
export async function closeDatabase(): Promise<void> {
  const current = instance;
  instance = undefined;
  await current?.destroy();
}
