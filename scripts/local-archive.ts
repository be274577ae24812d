/**
 * `npm start`: the whole archive on this machine (see the README). Reads only its own variables here; the archive's
 * configuration is set by startLocalArchive for the handlers it runs.
 */
import { resolve } from "node:path";

import { startLocalArchive } from "@archive/local/archive";
import { PortInUseError, portFromEnv } from "@archive/local/ports";

const { env } = process;
const LOG_LEVELS = ["DEBUG", "INFO", "WARN", "ERROR"] as const;
type LogLevel = (typeof LOG_LEVELS)[number];
const isLogLevel = (value: string): value is LogLevel => (LOG_LEVELS as readonly string[]).includes(value);

function fail(message: string): never {
  process.stderr.write(`\nnpm start: ${message}\n`);
  process.exit(1);
}

let archive: Awaited<ReturnType<typeof startLocalArchive>>;
try {
  const port = portFromEnv(env.PORT, "PORT") ?? 3000;
  const s3 = portFromEnv(env.ARCHIVE_S3_PORT, "ARCHIVE_S3_PORT");
  const dynamodb = portFromEnv(env.ARCHIVE_DYNAMODB_PORT, "ARCHIVE_DYNAMODB_PORT");
  const sqs = portFromEnv(env.ARCHIVE_SQS_PORT, "ARCHIVE_SQS_PORT");
  const postgres = portFromEnv(env.ARCHIVE_POSTGRES_PORT, "ARCHIVE_POSTGRES_PORT");
  // Handlers log every record as JSON; a person at a terminal wants warnings and errors unless they ask for more.
  const logLevel = (env.LOG_LEVEL ?? "WARN").toUpperCase();
  if (!isLogLevel(logLevel)) throw new RangeError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(", ")}, got ${logLevel}`);
  const anonymous = env.ALLOW_ANONYMOUS_UPLOADS ?? "true";
  if (!["true", "false"].includes(anonymous)) throw new RangeError(`ALLOW_ANONYMOUS_UPLOADS must be true or false, got ${anonymous}`);
  process.stdout.write("starting the local archive…\n");
  archive = await startLocalArchive({
    port,
    ports: { ...(s3 ? { s3 } : {}), ...(dynamodb ? { dynamodb } : {}), ...(sqs ? { sqs } : {}), ...(postgres ? { postgres } : {}) },
    stateDir: resolve(env.ARCHIVE_STATE_DIR ?? ".archive"),
    ...(env.DATABASE_URL ? { databaseUrl: env.DATABASE_URL } : {}),
    logLevel,
    allowAnonymousUploads: anonymous === "true",
  });
} catch (error) {
  if (error instanceof PortInUseError || error instanceof RangeError) fail(error.message);
  throw error;
}

const health = archive.health();
const { ports } = archive;
const lines = [
  "",
  `Local archive running. State: ${health.stateDir}`,
  `  dashboard     ${archive.url}/`,
  `  API           ${archive.url}  (the deployed routes: POST /upload, GET /recentuploads, /{site}/latest_images/{n}, …)`,
  `  live notices  ${health.stream}  (optionally ?site=tst)`,
  `  health        ${archive.url}/health    dead letters ${archive.url}/dlq`,
  `  S3            ${health.s3.endpoint}  bucket ${health.s3.bucket}, region ${health.s3.region}, keys ${health.s3.accessKeyId} / ${health.s3.secretAccessKey}`,
  `  DynamoDB      ${health.dynamodb.endpoint}  tables ${Object.values(health.dynamodb.tables).join(", ")}`,
  health.database === "embedded"
    ? `  Postgres      embedded (PGlite), ${archive.databaseUrl}`
    : "  Postgres      the server named by DATABASE_URL (migrated to the latest schema)",
  `  SQS stand-in  http://127.0.0.1:${ports.sqs} (the datastream queue)`,
  "",
  health.anonymousUploads
    ? `NOTE: local mode accepts anonymous uploads (ALLOW_ANONYMOUS_UPLOADS=true): anything that reaches port ${ports.api} can upload.`
    : "Uploads need a site token (ALLOW_ANONYMOUS_UPLOADS=false): issue one with npm run tokens against this archive.",
  "",
  `Try it: npx archive demo     then open ${archive.url}/     Stop: Ctrl-C`,
  "",
  `GET /health: ${JSON.stringify({ status: health.status, s3: health.s3, dynamodb: health.dynamodb, database: health.database })}`,
  "",
];
process.stdout.write(lines.join("\n"));

/** Ctrl-C stops the archive within this, whatever clients are connected (README, "Stopping"). */
const STOP_DEADLINE_MS = 4500;
let stoppingSince: number | undefined;
const shutdown = (signal: string) => {
  if (stoppingSince !== undefined) {
    // Ctrl-C reaches this process twice (from the terminal and relayed by tsx); only a later one means "hurry".
    if (Date.now() - stoppingSince < 2000) return;
    process.stderr.write("stopping now, without waiting\n");
    process.exit(1);
  }
  stoppingSince = Date.now();
  process.stdout.write(`\n${signal}: stopping (finishing running handlers, flushing Postgres)…\n`);
  // Whatever runs or is connected, Ctrl-C ends it promptly: what was not handled is in the queue journal.
  setTimeout(() => {
    process.stderr.write(
      `not stopped within ${STOP_DEADLINE_MS / 1000} s: exiting now; unhandled uploads are kept and handled at the next start\n`,
    );
    process.exit(1);
  }, STOP_DEADLINE_MS).unref();
  archive
    .stop()
    .then(() => {
      process.stdout.write(`stopped in ${((Date.now() - (stoppingSince ?? Date.now())) / 1000).toFixed(1)} s; state kept for next time.\n`);
      process.exit(0);
    })
    .catch((error: unknown) => {
      process.stderr.write(`could not stop cleanly: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    });
};
process.on("SIGINT", () => shutdown("SIGINT"));
process.on("SIGTERM", () => shutdown("SIGTERM"));
