import { listAnonymousUploaders, type AnonymousUploader } from "@archive/core/api/anonymousUploads";
import { issueOperatorToken, issueToken, listTokens, revokeToken, type TokenRecord } from "@archive/core/api/siteTokens";
import { configFromEnvironment, parseConfig } from "@archive/core/platform/config";
import { createAwsContext, type AwsContext } from "@archive/core/platform/context";
import { operatorEnvironment, type LocalArchiveHealth } from "@archive/local/archive";
import { ArchiveError } from "@archive/core/platform/errors";

/**
 * Site tokens for the upload API and operator tokens for the operations routes, run with the stage's environment (the
 * variables the functions get):
 *   npm run tokens -- issue <site>              prints the new token once; only its hash is stored
 *   npm run tokens -- issue-operator <name>     an operator's token (a person or a service), printed once
 *   npm run tokens -- revoke <token-or-hash>    either kind
 *   npm run tokens -- list [site]               the site tokens, the operator tokens (without a site), then the sites
 *                                               that uploaded without one
 * Add `--local [URL]` (default http://localhost:3000) to work on a running local archive instead, whose /health
 * names its services and tables.
 */
const USAGE =
  "usage: npm run tokens -- issue <site> | issue-operator <name> | revoke <token-or-hash> | list [site]  [--local [URL]]";
const DEFAULT_LOCAL_ARCHIVE = "http://localhost:3000";

function describe(record: TokenRecord): string {
  const state = record.revokedAt ? `revoked ${record.revokedAt}` : "active";
  const holder = record.kind === "site" ? record.site : `operator ${record.operator}`;
  return `${holder}\t${record.tokenHash}\tissued ${record.issuedAt}\t${state}`;
}

/** A site that uploaded without a token, and whether it now has one (then, under "until-site-token", it must use it). */
function describeAnonymous(uploader: AnonymousUploader, tokens: readonly TokenRecord[]): string {
  const active = tokens.some((record) => record.kind === "site" && record.site === uploader.site && record.revokedAt === null);
  const token = active ? "has an active token" : "no active token";
  return `${uploader.site}\tlast seen ${uploader.lastSeenAt}\t${uploader.uploadCount} uploads since ${uploader.firstSeenAt}\t${token}\t${uploader.lastObjectKey}`;
}

function describeList(tokens: readonly TokenRecord[], uploaders: readonly AnonymousUploader[], setting: string): string {
  const siteTokens = tokens.filter((record) => record.kind === "site");
  const operatorTokens = tokens.filter((record) => record.kind === "operator");
  const tokenLines = [
    ...(siteTokens.length === 0 ? ["no site tokens"] : siteTokens.map(describe)),
    ...(operatorTokens.length === 0 ? [] : ["", "operator tokens:", ...operatorTokens.map(describe)]),
  ];
  const anonymousLines =
    uploaders.length === 0
      ? ["no uploads without a token"]
      : [`uploads without a token (ALLOW_ANONYMOUS_UPLOADS=${setting}):`, ...uploaders.map((u) => describeAnonymous(u, tokens))];
  return [...tokenLines, "", ...anonymousLines].join("\n");
}

/** The stage's context from the environment, or a running local archive's from its /health. */
async function operatorContext(local: string | undefined): Promise<AwsContext> {
  if (local === undefined) return createAwsContext(configFromEnvironment());
  const response = await fetch(`${local}/health`).catch((error: unknown) => {
    throw new ArchiveError(`no local archive answers at ${local} (${error instanceof Error ? error.message : String(error)}): start it with npm start`, "unreachable", false, 400);
  });
  const health = (await response.json()) as LocalArchiveHealth;
  const { accessKeyId, secretAccessKey } = health.s3;
  return createAwsContext(parseConfig(operatorEnvironment(health)), { credentials: { accessKeyId, secretAccessKey } });
}

/** Takes `--local [URL]` out of the arguments: the running local archive to work on, if any. */
function takeLocalFlag(args: string[]): string | undefined {
  const index = args.indexOf("--local");
  if (index === -1) return undefined;
  const next = args[index + 1];
  const url = next?.startsWith("http") ? next : undefined;
  args.splice(index, url === undefined ? 1 : 2);
  return url ?? DEFAULT_LOCAL_ARCHIVE;
}

const args = process.argv.slice(2);
const localUrl = takeLocalFlag(args);

async function run(ctx: AwsContext, command: string | undefined, argument: string | undefined): Promise<string> {
  if (command === "issue" && argument) {
    const issued = await issueToken(ctx, argument, ctx.clock());
    return `${describe(issued)}\n\ntoken (shown once, give it to the site): ${issued.token}`;
  }
  if (command === "issue-operator" && argument) {
    const issued = await issueOperatorToken(ctx, argument, ctx.clock());
    return `${describe(issued)}\n\ntoken (shown once, give it to the operator): ${issued.token}`;
  }
  if (command === "revoke" && argument) return describe(await revokeToken(ctx, argument, ctx.clock()));
  if (command === "list") {
    const [tokens, uploaders] = await Promise.all([listTokens(ctx, argument), listAnonymousUploaders(ctx, argument)]);
    return describeList(tokens, uploaders, ctx.config.ALLOW_ANONYMOUS_UPLOADS);
  }
  throw new ArchiveError(USAGE, "usage", false, 400);
}

try {
  process.stdout.write(`${await run(await operatorContext(localUrl), args[0], args[1])}\n`);
} catch (error) {
  // Bad input is the operator's to fix and is said plainly; anything else is logged in full.
  if (error instanceof ArchiveError && error.status < 500) {
    process.stderr.write(`${error.message}\n`);
  } else {
    process.stderr.write(`tokens command failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  }
  process.exitCode = 1;
}
