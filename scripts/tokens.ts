import { ArchiveError } from "@archive/core/errors";
import { logger } from "@archive/core/logger";
import { issueToken, listTokens, revokeToken, type SiteTokenRecord } from "@archive/core/siteTokens";

/**
 * Site tokens for the upload API, run with the stage's environment (the variables the functions get):
 *   npm run tokens -- issue <site>              prints the new token once; only its hash is stored
 *   npm run tokens -- revoke <token-or-hash>
 *   npm run tokens -- list [site]
 */
const USAGE = "usage: npm run tokens -- issue <site> | revoke <token-or-hash> | list [site]";

function describe(record: SiteTokenRecord): string {
  const state = record.revokedAt ? `revoked ${record.revokedAt}` : "active";
  return `${record.site}\t${record.tokenHash}\tissued ${record.issuedAt}\t${state}`;
}

async function run(command: string | undefined, argument: string | undefined): Promise<string> {
  if (command === "issue" && argument) {
    const issued = await issueToken(argument);
    return `${describe(issued)}\n\ntoken (shown once, give it to the site): ${issued.token}`;
  }
  if (command === "revoke" && argument) return describe(await revokeToken(argument));
  if (command === "list") {
    const records = await listTokens(argument);
    return records.length === 0 ? "no site tokens" : records.map(describe).join("\n");
  }
  throw new ArchiveError(USAGE, "usage", false, 400);
}

try {
  process.stdout.write(`${await run(process.argv[2], process.argv[3])}\n`);
} catch (error) {
  // Bad input is the operator's to fix and is said plainly; anything else is logged in full.
  if (error instanceof ArchiveError && error.status < 500) {
    process.stderr.write(`${error.message}\n`);
  } else {
    logger.error("tokens command failed", { error: error instanceof Error ? error : String(error) });
  }
  process.exitCode = 1;
}
