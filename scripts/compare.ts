import { parseArgs } from "node:util";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { Kysely } from "kysely";
import { compareShadow, formatShadowComparison, parseSince } from "@archive/core/cutover/shadowComparison";
import type { Database } from "@archive/core/exposures/imagesTable";
import { parseConfig } from "@archive/core/platform/config";
import { ArchiveError } from "@archive/core/platform/errors";
import { createLogger } from "@archive/core/platform/logger";
import { createDb, createDbFromSecret } from "@archive/core/platform/postgres";
import { APP_REGION, assertStageConfig, stageConfig, type StageConfig } from "../stacks/stageConfig";
import { shadowTables } from "./cutoverStage";
import { failureExitCode } from "./usage";

/**
 * `npm run compare -- --stage prod --since 24h`: every difference between what the running system wrote since then
 * (the live `images` rows, recent-uploads-log, info-images, data-expiration-tracker) and what the stage's shadow mode
 * wrote for the same events (the shadow schema and tables). Prints a summary and the differences; exit code 1 when
 * there is any difference the contract does not ask for, 2 on a usage error.
 *
 * Postgres: DATABASE_URL when set (e.g. a tunnel to the RDS instance), else the stage's database secret. DynamoDB: the
 * caller's AWS credentials (DYNAMODB_ENDPOINT points at an emulator). Options: --live-schema, --shadow-schema,
 * --ra-tolerance (degrees), --date-tolerance-ms, --item-tolerance-s.
 */
const USAGE =
  "usage: npm run compare -- --stage <stage> --since <24h|90m|2d|ISO time> [--live-schema public] [--shadow-schema archive_shadow] " +
  "[--ra-tolerance <degrees>] [--date-tolerance-ms <ms>] [--item-tolerance-s <s>]";

const log = createLogger({ POWERTOOLS_SERVICE_NAME: "data-archive-compare" });

function database(config: StageConfig): Kysely<Database> {
  if (process.env.DATABASE_URL) return createDb(process.env.DATABASE_URL, { poolSize: 4, log });
  if (config.database.kind !== "existing") {
    throw new ArchiveError(`stage ${config.stage} has no database secret to read: set DATABASE_URL`, "usage", false, 400);
  }
  const settings = parseConfig({
    STAGE: config.stage,
    AWS_REGION: process.env.AWS_REGION ?? APP_REGION,
    DATABASE_SECRET_ARN: config.database.secret,
    DATABASE_POOL_SIZE: "4",
    // The comparison reads Postgres and DynamoDB only: no bucket or queue is touched.
    BUCKET_NAME: config.bucket.kind === "existing" ? config.bucket.name : "unused-by-compare",
    DATASTREAM_QUEUE_URL: "https://sqs.invalid/unused-by-compare",
  });
  return createDbFromSecret(settings, config.database.secret, log);
}

const numberOption = (value: string | undefined, name: string): number | undefined => {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isFinite(number) || number < 0) throw new ArchiveError(`--${name} must be a non-negative number, got ${value}`, "usage", false, 400);
  return number;
};

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      stage: { type: "string" },
      since: { type: "string" },
      "live-schema": { type: "string" },
      "shadow-schema": { type: "string" },
      "ra-tolerance": { type: "string" },
      "date-tolerance-ms": { type: "string" },
      "item-tolerance-s": { type: "string" },
    },
  });
  if (!values.stage || !values.since) throw new ArchiveError(USAGE, "usage", false, 400);
  const now = new Date();
  const since = parseSince(values.since, now);
  const config = assertStageConfig(stageConfig(values.stage));
  const defaults = shadowTables(config);
  const targets = {
    ...defaults,
    schemas: { live: values["live-schema"] ?? defaults.schemas.live, shadow: values["shadow-schema"] ?? defaults.schemas.shadow },
  };
  const tolerances = {
    raDegrees: numberOption(values["ra-tolerance"], "ra-tolerance"),
    dateMs: numberOption(values["date-tolerance-ms"], "date-tolerance-ms"),
    itemSeconds: numberOption(values["item-tolerance-s"], "item-tolerance-s"),
  };
  const dynamo = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      region: process.env.AWS_REGION ?? APP_REGION,
      ...(process.env.DYNAMODB_ENDPOINT ? { endpoint: process.env.DYNAMODB_ENDPOINT } : {}),
    }),
  );
  const db = database(config);
  try {
    const result = await compareShadow({ db, dynamo }, targets, {
      since,
      now,
      tolerances: Object.fromEntries(Object.entries(tolerances).filter(([, value]) => value !== undefined)),
    });
    process.stdout.write(`${formatShadowComparison(result)}\n`);
    return result.differences.length === 0 ? 0 : 1;
  } finally {
    dynamo.destroy();
    await db.destroy();
  }
}

try {
  process.exitCode = await main();
} catch (error) {
  process.exitCode = failureExitCode(error, USAGE, log);
}
