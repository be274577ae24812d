import { listAnonymousUploaders, type AnonymousUploader } from "@archive/core/api/anonymousUploads";
import { issueToken, listTokens, revokeToken, type SiteTokenRecord } from "@archive/core/api/siteTokens";
import { configFromEnvironment } from "@archive/core/platform/config";
import { createAwsContext } from "@archive/core/platform/context";
import { ArchiveError } from "@archive/core/platform/errors";

/**
 * Site tokens for the upload API, run with the stage's environment (the variables the functions get):
 *   npm run tokens -- issue <site>              prints the new token once; only its hash is stored
 *   npm run tokens -- revoke <token-or-hash>
 *   npm run tokens -- list [site]               the tokens, then the sites that uploaded without one
 */
const USAGE = "usage: npm run tokens -- issue <site> | revoke <token-or-hash> | list [site]";

function describe(record: SiteTokenRecord): string {
  const state = record.revokedAt ? `revoked ${record.revokedAt}` : "active";
  return `${record.site}\t${record.tokenHash}\tissued ${record.issuedAt}\t${state}`;
}

/** A site that uploaded without a token, and whether it now has one (then, under "until-site-token", it must use it). */
function describeAnonymous(uploader: AnonymousUploader, tokens: readonly SiteTokenRecord[]): string {
  const active = tokens.some((record) => record.site === uploader.site && record.revokedAt === null);
  const token = active ? "has an active token" : "no active token";
  return `${uploader.site}\tlast seen ${uploader.lastSeenAt}\t${uploader.uploadCount} uploads since ${uploader.firstSeenAt}\t${token}\t${uploader.lastObjectKey}`;
}

function describeList(tokens: readonly SiteTokenRecord[], uploaders: readonly AnonymousUploader[], setting: string): string {
  const tokenLines = tokens.length === 0 ? ["no site tokens"] : tokens.map(describe);
  const anonymousLines =
    uploaders.length === 0
      ? ["no uploads without a token"]
      : [`uploads without a token (ALLOW_ANONYMOUS_UPLOADS=${setting}):`, ...uploaders.map((u) => describeAnonymous(u, tokens))];
  return [...tokenLines, "", ...anonymousLines].join("\n");
}

const ctx = createAwsContext(configFromEnvironment());

async function run(command: string | undefined, argument: string | undefined): Promise<string> {
  if (command === "issue" && argument) {
    const issued = await issueToken(ctx, argument, ctx.clock());
    return `${describe(issued)}\n\ntoken (shown once, give it to the site): ${issued.token}`;
  }
  if (command === "revoke" && argument) return describe(await revokeToken(ctx, argument, ctx.clock()));
  if (command === "list") {
    const [tokens, uploaders] = await Promise.all([listTokens(ctx, argument), listAnonymousUploaders(ctx, argument)]);
    return describeList(tokens, uploaders, ctx.config.ALLOW_ANONYMOUS_UPLOADS);
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
    ctx.log.error("tokens command failed", { error: error instanceof Error ? error : String(error) });
  }
  process.exitCode = 1;
}
