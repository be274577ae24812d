import { createHash, randomBytes } from "node:crypto";
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, ScanCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { z } from "zod";
import { assertSiteName, type UploadObjectKey } from "../names/fileName";
import type { AwsContext } from "../platform/context";
import { dynamoCall, dynamoFault, isConditionFailure } from "../platform/dynamo";
import { ArchiveError, ForbiddenError, InvalidInputError, NotFoundError, UnauthorizedError } from "../platform/errors";
import { tables } from "../platform/tables";
import { recordAnonymousUpload } from "./anonymousUploads";

type TokenContext = Pick<AwsContext, "dynamo" | "tables">;

/**
 * Tokens of the API, two kinds in one table: a site presents its site token to upload, and may upload only files named
 * for its own site; an operator presents an operator token to call the operations routes (routes.ts `operatorOnly`).
 * Only the SHA-256 of a token is stored, so the table never holds a usable secret. Neither kind ever passes for the
 * other: an item is an operator's only when it says `kind: "operator"`, and only site items carry `site` (the index
 * by site, and so "until-site-token", never sees an operator's).
 */

/**
 * Who is calling, as the authorizer found it: a site proven by its token, an operator proven by theirs, a legacy
 * client without one (whether it may upload is the upload route's decision, which knows the file's site), or nobody.
 */
export type ApiCaller =
  | { kind: "site"; site: string }
  | { kind: "operator"; operator: string }
  | { kind: "anonymous" }
  | { kind: "unauthenticated"; reason: string };

/** Whom a token was issued to. */
export type TokenHolder = { kind: "site"; site: string } | { kind: "operator"; operator: string };

export type TokenRecord = TokenHolder & {
  tokenHash: string;
  issuedAt: string;
  revokedAt: string | null;
};

export type IssuedToken = TokenRecord & {
  /** Shown once, at issue; never stored. */
  token: string;
};

const TOKEN_HASH_PATTERN = /^[0-9a-f]{64}$/;
/** An operator's name as `list` shows it: a person or a service account, no spaces or control characters. */
const OPERATOR_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

const tokenTimes = { token_hash: z.string(), issued_at: z.string(), revoked_at: z.string().optional() };
// Items written before operator tokens existed have no `kind`: they are site tokens.
const tokenItemSchema = z.union([
  z.object({ ...tokenTimes, kind: z.literal("operator"), operator: z.string() }),
  z.object({ ...tokenTimes, kind: z.literal("site").optional(), site: z.string() }),
]);

function toRecord(item: z.infer<typeof tokenItemSchema>): TokenRecord {
  const times = { tokenHash: item.token_hash, issuedAt: item.issued_at, revokedAt: item.revoked_at ?? null };
  return item.kind === "operator" ? { kind: "operator", operator: item.operator, ...times } : { kind: "site", site: item.site, ...times };
}

function parseItem(item: Record<string, unknown>): TokenRecord {
  const parsed = tokenItemSchema.safeParse(item);
  if (!parsed.success) {
    throw new ArchiveError(`malformed token item: ${parsed.error.message}`, "invalid_token_record", false, 500);
  }
  return toRecord(parsed.data);
}

export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

export async function issueToken(ctx: TokenContext, site: string, now: Date): Promise<IssuedToken> {
  return issue(ctx, { kind: "site", site: assertSiteName(site) }, now);
}

/** A token for the operations routes, named for the person or service that holds it. */
export async function issueOperatorToken(ctx: TokenContext, operator: string, now: Date): Promise<IssuedToken> {
  if (!OPERATOR_NAME.test(operator)) {
    throw new InvalidInputError(
      `operator must be 1-64 letters, digits or . _ @ - (starting with a letter or digit), got ${JSON.stringify(operator)}`,
      "operator",
    );
  }
  return issue(ctx, { kind: "operator", operator }, now);
}

async function issue(ctx: TokenContext, holder: TokenHolder, now: Date): Promise<IssuedToken> {
  const token = randomBytes(32).toString("base64url");
  const record: TokenRecord = { ...holder, tokenHash: hashToken(token), issuedAt: now.toISOString(), revokedAt: null };
  // Site items keep the shape they always had; an operator's says its kind.
  const holderAttributes = holder.kind === "site" ? { site: holder.site } : { kind: holder.kind, operator: holder.operator };
  await dynamoCall(`issue a ${holder.kind} token`, () =>
    ctx.dynamo.send(
      new PutCommand({
        TableName: ctx.tables.siteTokens,
        Item: { token_hash: record.tokenHash, ...holderAttributes, issued_at: record.issuedAt },
        ConditionExpression: "attribute_not_exists(token_hash)",
      }),
    ),
  );
  return { ...record, token };
}

/** Accepts the token itself or its hash (what `list` shows); a revoked token stays listed, marked with the time. */
export async function revokeToken(ctx: TokenContext, tokenOrHash: string, now: Date): Promise<TokenRecord> {
  const tokenHash = TOKEN_HASH_PATTERN.test(tokenOrHash) ? tokenOrHash : hashToken(tokenOrHash);
  try {
    const result = await ctx.dynamo.send(
      new UpdateCommand({
        TableName: ctx.tables.siteTokens,
        Key: { token_hash: tokenHash },
        UpdateExpression: "SET revoked_at = if_not_exists(revoked_at, :now)",
        ConditionExpression: "attribute_exists(token_hash)",
        ExpressionAttributeValues: { ":now": now.toISOString() },
        ReturnValues: "ALL_NEW",
      }),
    );
    return parseItem(result.Attributes ?? {});
  } catch (error) {
    if (isConditionFailure(error)) throw new NotFoundError(`no token with hash ${tokenHash}`);
    throw dynamoFault("revoke a token", error);
  }
}

/** Removes a token's record entirely (tests and cleanup); revocation is the normal way to end a token. */
export async function deleteToken(ctx: TokenContext, tokenHash: string): Promise<void> {
  await dynamoCall("delete a site token", () =>
    ctx.dynamo.send(new DeleteCommand({ TableName: ctx.tables.siteTokens, Key: { token_hash: tokenHash } })),
  );
}

export async function listTokens(ctx: TokenContext, site?: string): Promise<TokenRecord[]> {
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await dynamoCall("list site tokens", () =>
      site === undefined
        ? ctx.dynamo.send(new ScanCommand({ TableName: ctx.tables.siteTokens, ExclusiveStartKey: startKey }))
        : ctx.dynamo.send(
            new QueryCommand({
              TableName: ctx.tables.siteTokens,
              IndexName: tables.siteTokens.globalIndexes[0].indexName,
              KeyConditionExpression: "site = :site",
              ExpressionAttributeValues: { ":site": assertSiteName(site) },
              ExclusiveStartKey: startKey,
            }),
          ),
    );
    items.push(...(page.Items ?? []));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items.map(parseItem).sort((a, b) => holderName(a).localeCompare(holderName(b)) || a.issuedAt.localeCompare(b.issuedAt));
}

/** Sites first, then operators, each by name. */
function holderName(holder: TokenHolder): string {
  return holder.kind === "site" ? `0 ${holder.site}` : `1 ${holder.operator}`;
}

/** RFC 6750's token68: what `Bearer` may be followed by (our tokens are base64url). */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

const TOKEN_REQUIRED = "a site token is required (Authorization: Bearer <token>)";
const MALFORMED = "the Authorization header must be `Bearer <token>`";

/**
 * The authorizer's decision from the Authorization header as sent: which site a token belongs to, or why there is no
 * caller. A header that is present but not `Bearer <token>` is refused in every mode, as a wrong token is: the client
 * meant to authenticate, and treating it as absent would let a typo upload anonymously.
 */
export async function identifyCaller(
  ctx: Pick<AwsContext, "dynamo" | "tables" | "config">,
  authorization: string | undefined,
): Promise<ApiCaller> {
  if (authorization === undefined) {
    return ctx.config.ALLOW_ANONYMOUS_UPLOADS === "false" ? { kind: "unauthenticated", reason: TOKEN_REQUIRED } : { kind: "anonymous" };
  }
  const token = BEARER.exec(authorization)?.[1];
  if (token === undefined) return { kind: "unauthenticated", reason: MALFORMED };
  const result = await dynamoCall("look up a site token", () =>
    ctx.dynamo.send(new GetCommand({ TableName: ctx.tables.siteTokens, Key: { token_hash: hashToken(token) } })),
  );
  // A wrong or revoked token is refused even where anonymous uploads are allowed: the client meant to authenticate.
  if (!result.Item) return { kind: "unauthenticated", reason: "the token is not valid" };
  const record = parseItem(result.Item);
  if (record.revokedAt !== null) return { kind: "unauthenticated", reason: `the ${record.kind} token has been revoked` };
  return record.kind === "site" ? { kind: "site", site: record.site } : { kind: "operator", operator: record.operator };
}

const OPERATOR_TOKEN_REQUIRED = "an operator token is required (Authorization: Bearer <operator token>)";

/**
 * An operations route's decision (routes.ts `operatorOnly`): only an operator's token passes; a site token is
 * authenticated but not allowed (403); no token, a wrong or revoked one is 401, whatever the stage's anonymous setting.
 */
export function authorizeOperator(caller: ApiCaller): void {
  if (caller.kind === "operator") return;
  if (caller.kind === "site") throw new ForbiddenError(`a site token (site ${caller.site}) cannot call the operations routes`);
  throw new UnauthorizedError(caller.kind === "unauthenticated" ? `${caller.reason}; ${OPERATOR_TOKEN_REQUIRED}` : OPERATOR_TOKEN_REQUIRED);
}

/** Whether the site has a token that is not revoked: from then on its uploads need it ("until-site-token"). */
export async function hasActiveToken(ctx: TokenContext, site: string): Promise<boolean> {
  return (await listTokens(ctx, site)).some((record) => record.kind === "site" && record.revokedAt === null);
}

/**
 * The upload route's decision (the authorizer cannot see the file's site, which is in the body): a site's token
 * uploads only its own site's files; a caller without a token uploads as the stage's ALLOW_ANONYMOUS_UPLOADS says,
 * and each such upload is counted for its site.
 */
export async function authorizeUpload(
  ctx: Pick<AwsContext, "dynamo" | "tables" | "config" | "metrics" | "clock">,
  caller: ApiCaller,
  file: UploadObjectKey,
): Promise<void> {
  if (caller.kind === "unauthenticated") throw new UnauthorizedError(caller.reason);
  if (caller.kind === "operator") throw new ForbiddenError("an operator token cannot upload: uploads need the site's own token");
  if (caller.kind === "site") {
    if (caller.site !== file.site) throw new ForbiddenError(`a token of site ${caller.site} cannot upload files of site ${file.site}`);
    return;
  }
  const setting = ctx.config.ALLOW_ANONYMOUS_UPLOADS;
  // This function's own setting decides, whatever the authorizer was configured with.
  if (setting === "false") throw new UnauthorizedError(TOKEN_REQUIRED);
  if (setting === "until-site-token" && (await hasActiveToken(ctx, file.site))) {
    throw new UnauthorizedError(`site ${file.site} has a site token: its uploads need it (Authorization: Bearer <token>)`);
  }
  await recordAnonymousUpload(ctx, file.site, file.key, ctx.clock());
}
