import { createHash, randomBytes } from "node:crypto";
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, ScanCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { z } from "zod";
import { assertSiteName, type UploadObjectKey } from "../names/fileName";
import type { AwsContext } from "../platform/context";
import { dynamoCall, dynamoFault, isConditionFailure } from "../platform/dynamo";
import { ArchiveError, ForbiddenError, NotFoundError, UnauthorizedError } from "../platform/errors";
import { tables } from "../platform/tables";
import { recordAnonymousUpload } from "./anonymousUploads";

type TokenContext = Pick<AwsContext, "dynamo" | "tables">;

/**
 * Site tokens: a site presents one to upload, and may upload only files named for its own site.
 * Only the SHA-256 of a token is stored, so the table never holds a usable secret.
 */

/**
 * Who is asking to upload: a site proven by its token, a legacy client without one (whether it may upload is the
 * upload route's decision, which knows the file's site), or nobody.
 */
export type UploadCaller =
  | { kind: "site"; site: string }
  | { kind: "anonymous" }
  | { kind: "unauthenticated"; reason: string };

export interface SiteTokenRecord {
  tokenHash: string;
  site: string;
  issuedAt: string;
  revokedAt: string | null;
}

export interface IssuedToken extends SiteTokenRecord {
  /** Shown once, at issue; never stored. */
  token: string;
}

const TOKEN_HASH_PATTERN = /^[0-9a-f]{64}$/;

const tokenItemSchema = z.object({
  token_hash: z.string(),
  site: z.string(),
  issued_at: z.string(),
  revoked_at: z.string().optional(),
});

function toRecord(item: z.infer<typeof tokenItemSchema>): SiteTokenRecord {
  return { tokenHash: item.token_hash, site: item.site, issuedAt: item.issued_at, revokedAt: item.revoked_at ?? null };
}

function parseItem(item: Record<string, unknown>): SiteTokenRecord {
  const parsed = tokenItemSchema.safeParse(item);
  if (!parsed.success) {
    throw new ArchiveError(`malformed site token item: ${parsed.error.message}`, "invalid_token_record", false, 500);
  }
  return toRecord(parsed.data);
}

export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

export async function issueToken(ctx: TokenContext, site: string, now: Date): Promise<IssuedToken> {
  assertSiteName(site);
  const token = randomBytes(32).toString("base64url");
  const record: SiteTokenRecord = { tokenHash: hashToken(token), site, issuedAt: now.toISOString(), revokedAt: null };
  await dynamoCall("issue a site token", () =>
    ctx.dynamo.send(
      new PutCommand({
        TableName: ctx.tables.siteTokens,
        Item: { token_hash: record.tokenHash, site, issued_at: record.issuedAt },
        ConditionExpression: "attribute_not_exists(token_hash)",
      }),
    ),
  );
  return { ...record, token };
}

/** Accepts the token itself or its hash (what `list` shows); a revoked token stays listed, marked with the time. */
export async function revokeToken(ctx: TokenContext, tokenOrHash: string, now: Date): Promise<SiteTokenRecord> {
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
    if (isConditionFailure(error)) throw new NotFoundError(`no site token with hash ${tokenHash}`);
    throw dynamoFault("revoke a site token", error);
  }
}

/** Removes a token's record entirely (tests and cleanup); revocation is the normal way to end a token. */
export async function deleteToken(ctx: TokenContext, tokenHash: string): Promise<void> {
  await dynamoCall("delete a site token", () =>
    ctx.dynamo.send(new DeleteCommand({ TableName: ctx.tables.siteTokens, Key: { token_hash: tokenHash } })),
  );
}

export async function listTokens(ctx: TokenContext, site?: string): Promise<SiteTokenRecord[]> {
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
  return items.map(parseItem).sort((a, b) => a.site.localeCompare(b.site) || a.issuedAt.localeCompare(b.issuedAt));
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
): Promise<UploadCaller> {
  if (authorization === undefined) {
    return ctx.config.ALLOW_ANONYMOUS_UPLOADS === "false" ? { kind: "unauthenticated", reason: TOKEN_REQUIRED } : { kind: "anonymous" };
  }
  const token = BEARER.exec(authorization)?.[1];
  if (token === undefined) return { kind: "unauthenticated", reason: MALFORMED };
  const result = await dynamoCall("look up a site token", () =>
    ctx.dynamo.send(new GetCommand({ TableName: ctx.tables.siteTokens, Key: { token_hash: hashToken(token) } })),
  );
  // A wrong or revoked token is refused even where anonymous uploads are allowed: the client meant to authenticate.
  if (!result.Item) return { kind: "unauthenticated", reason: "the site token is not valid" };
  const record = parseItem(result.Item);
  if (record.revokedAt !== null) return { kind: "unauthenticated", reason: "the site token has been revoked" };
  return { kind: "site", site: record.site };
}

/** Whether the site has a token that is not revoked: from then on its uploads need it ("until-site-token"). */
export async function hasActiveToken(ctx: TokenContext, site: string): Promise<boolean> {
  return (await listTokens(ctx, site)).some((record) => record.revokedAt === null);
}

/**
 * The upload route's decision (the authorizer cannot see the file's site, which is in the body): a site's token
 * uploads only its own site's files; a caller without a token uploads as the stage's ALLOW_ANONYMOUS_UPLOADS says,
 * and each such upload is counted for its site.
 */
export async function authorizeUpload(
  ctx: Pick<AwsContext, "dynamo" | "tables" | "config" | "metrics" | "clock">,
  caller: UploadCaller,
  file: UploadObjectKey,
): Promise<void> {
  if (caller.kind === "unauthenticated") throw new UnauthorizedError(caller.reason);
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
