import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import { z } from "zod";
import type { Database } from "../exposures/imagesTable";
import { ConfigError, type ArchiveConfig } from "./config";
import { TransientError } from "./errors";
import { describeError, type Logger } from "./logger";

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
  /** The only schema on every connection's search_path (DATABASE_SCHEMA); the server's default when absent. */
  schema?: string;
  /** Where a dropped idle connection is reported. */
  log?: Logger;
}

function poolConfig(connection: pg.PoolConfig, options: DbOptions): pg.PoolConfig {
  return {
    ...connection,
    max: options.poolSize ?? 10,
    types: typeParsers,
    ...(options.ssl ? { ssl: { rejectUnauthorized: false } } : {}),
    // Set at connection start, before any statement: no query of any connection can fall through to another schema.
    ...(options.schema ? { options: `-c search_path=${options.schema}` } : {}),
  };
}

function logPoolErrors(pool: pg.Pool, log: Logger | undefined): pg.Pool {
  // An idle client's connection can drop (server restart, RDS failover); pg replaces it, so we only record it.
  pool.on("error", (error) => log?.warn("idle Postgres connection failed", { error: error.message }));
  // A checked-out client (a transaction between statements) gets the pool's listener removed; without one of its
  // own, a server dying under it is an unhandled 'error' event that ends the process. The statement in flight, or the
  // next one, fails anyway and its record is retried.
  pool.on("connect", (client) => {
    client.on("error", (error) => log?.warn("Postgres connection failed while in use", { error: error.message }));
  });
  return pool;
}

/** A kysely instance over a pg pool; the one place where pg's type parsing is decided. */
export function createDb(url: string, options: DbOptions = {}): Kysely<Database> {
  const pool = logPoolErrors(new pg.Pool(poolConfig({ connectionString: url }, options)), options.log);
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

const databaseSecretSchema = z.object({
  host: z.string().min(1),
  port: z.coerce.number().int().positive().default(5432),
  username: z.string().min(1),
  password: z.string().min(1),
  dbname: z.string().min(1).default("postgres"),
});

function parseJsonOrNull(text: string | undefined, log: Logger): unknown {
  try {
    return JSON.parse(text ?? "null");
  } catch (error) {
    log.error("the database secret is not JSON", { error: describeError(error) });
    return null;
  }
}

async function readDatabaseSecret(config: ArchiveConfig, secretArn: string, log: Logger): Promise<pg.PoolConfig> {
  // Loaded at the first connection, not with the handler: a chunk of its own, off every function's import time.
  const { GetSecretValueCommand, SecretsManagerClient } = await import("@aws-sdk/client-secrets-manager");
  const client = new SecretsManagerClient({ region: config.AWS_REGION });
  let secretString: string | undefined;
  try {
    secretString = (await client.send(new GetSecretValueCommand({ SecretId: secretArn }))).SecretString;
  } catch (error) {
    log.error("cannot read the database secret", { secretArn, error: describeError(error) });
    throw new TransientError("cannot read the database secret", { cause: error });
  } finally {
    client.destroy();
  }
  const parsed = databaseSecretSchema.safeParse(parseJsonOrNull(secretString, log));
  if (!parsed.success) {
    throw new ConfigError(`database secret ${secretArn} lacks host/port/username/password/dbname`);
  }
  const secret = parsed.data;
  return { host: secret.host, port: secret.port, user: secret.username, password: secret.password, database: secret.dbname };
}

/** A kysely instance whose pool is built on first use from a Secrets Manager secret (SSL on: this is RDS). */
export function createDbFromSecret(config: ArchiveConfig, secretArn: string, log: Logger): Kysely<Database> {
  const options: DbOptions = { poolSize: config.DATABASE_POOL_SIZE, ssl: true, log, schema: config.DATABASE_SCHEMA };
  const pool = async () => logPoolErrors(new pg.Pool(poolConfig(await readDatabaseSecret(config, secretArn, log), options)), log);
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

/** The process's database, from DATABASE_URL (local, tests) or DATABASE_SECRET_ARN (AWS); connects on first query. */
export function createDatabase(config: ArchiveConfig, log: Logger): Kysely<Database> {
  if (config.DATABASE_URL) {
    return createDb(config.DATABASE_URL, { poolSize: config.DATABASE_POOL_SIZE, log, schema: config.DATABASE_SCHEMA });
  }
  if (config.DATABASE_SECRET_ARN) return createDbFromSecret(config, config.DATABASE_SECRET_ARN, log);
  throw new ConfigError("DATABASE_URL or DATABASE_SECRET_ARN must be set");
}
