import { parseArgs } from "node:util";
import { accountReader, closeAccountClients, createAccountClients } from "@archive/core/cutover/accountReader";
import { formatPreflight, runPreflight } from "@archive/core/cutover/preflight";
import { ArchiveError } from "@archive/core/platform/errors";
import { createLogger } from "@archive/core/platform/logger";
import { APP_REGION, assertStageConfig, stageConfig } from "../stacks/stageConfig";
import { preflightExpectations } from "./cutoverStage";
import { failureExitCode } from "./usage";

/**
 * `npm run preflight -- --stage prod`: read-only AWS calls (HeadBucket, GetBucketNotificationConfiguration,
 * DescribeTable, DescribeTimeToLive, GetQueueUrl, DescribeSecret) that check what the stage expects of the account,
 * with the caller's AWS credentials. Prints a go/no-go table; exit code 1 on a no-go, 2 on a usage error.
 * S3_ENDPOINT, DYNAMODB_ENDPOINT, SQS_ENDPOINT point it at emulators instead (tests).
 */
const USAGE = "usage: npm run preflight -- --stage <stage>";

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { stage: { type: "string" } }, allowPositionals: false });
  if (!values.stage) throw new ArchiveError(USAGE, "usage", false, 400);
  const expectations = preflightExpectations(assertStageConfig(stageConfig(values.stage)));
  const clients = createAccountClients({
    region: process.env.AWS_REGION ?? APP_REGION,
    s3: process.env.S3_ENDPOINT,
    dynamodb: process.env.DYNAMODB_ENDPOINT,
    sqs: process.env.SQS_ENDPOINT,
  });
  try {
    const report = await runPreflight(accountReader(clients), expectations);
    process.stdout.write(`${formatPreflight(report)}\n`);
    return report.go ? 0 : 1;
  } finally {
    closeAccountClients(clients);
  }
}

try {
  process.exitCode = await main();
} catch (error) {
  process.exitCode = failureExitCode(error, USAGE, createLogger({ POWERTOOLS_SERVICE_NAME: "data-archive-preflight" }));
}
