import { z } from "zod";
import { database } from "./db";
import { ArchiveError, InvalidInputError, NotFoundError } from "./errors";
import { ARCHIVE_DIRECTORIES, MAX_FILE_NAME_LENGTH, type ArchiveDirectory } from "./fileName";
import { MAX_LATEST_IMAGES, fitsHeaderObject, imagePackage, infoImagePackage, latestImagePackages } from "./imagePackages";
import { logger } from "./logger";
import { assertSiteName, bearerToken, identifyCaller, type UploadCaller } from "./siteTokens";
import { recentUploads } from "./uploadLog";
import { requestDownload, requestUpload } from "./uploads";

/**
 * The HTTP API without its transport: request schemas, the route table and the one error-to-HTTP mapping.
 * The Lambda handlers and the local archive's server are adapters over `handleApiRequest`, so both route alike.
 */

export interface ApiRequest {
  method: string;
  /** The raw (still percent-encoded) path, e.g. "/image/sro-kb001ms-20220629-00010442". */
  path: string;
  query: Record<string, string | undefined>;
  /** Header names in lower case, as API Gateway and Node deliver them. */
  headers: Record<string, string | undefined>;
  body: string | undefined;
  /** Who the authorizer in front of the API found; absent, the upload route identifies the caller itself. */
  caller?: UploadCaller;
  requestId: string;
}

export interface ApiResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

// ---- request schemas -------------------------------------------------------------------------------------------

/** Checked before the file-name parser so hostile input gets a plain reason and never reaches a key. */
const objectNameSchema = z
  .string({ required_error: "is required", invalid_type_error: "must be a string" })
  .min(1, "must not be empty")
  .max(MAX_FILE_NAME_LENGTH, `must be at most ${MAX_FILE_NAME_LENGTH} characters`)
  .regex(/^[\x20-\x7e]+$/, "must be printable ASCII")
  .refine((name) => !name.includes("/") && !name.includes("\\"), "must not contain a path separator")
  .refine((name) => !name.includes(".."), 'must not contain ".."');

const directorySchema = z.enum(ARCHIVE_DIRECTORIES as [ArchiveDirectory, ...ArchiveDirectory[]], {
  errorMap: () => ({ message: `must be one of ${ARCHIVE_DIRECTORIES.join(", ")}` }),
});

const infoChannelSchema = z
  .union([z.number(), z.string().regex(/^\d+$/, "must be 1, 2 or 3").transform(Number)], {
    errorMap: () => ({ message: "must be 1, 2 or 3" }),
  })
  .pipe(z.union([z.literal(1), z.literal(2), z.literal(3)], { errorMap: () => ({ message: "must be 1, 2 or 3" }) }));

/** A FITS header sent as JSON: keyword → scalar value (null for an undefined value); COMMENT / HISTORY as lists. */
export const headerObjectSchema = z.record(
  z.string().min(1).max(128),
  z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(z.string())], {
    errorMap: () => ({ message: "must be a string, number, boolean, null or a list of strings" }),
  }),
);

export const uploadRequestSchema = z.object({
  object_name: objectNameSchema,
  s3_directory: directorySchema.default("data"),
  info_channel: infoChannelSchema.default(1),
  header: headerObjectSchema.optional(),
});
export type UploadRequestBody = z.output<typeof uploadRequestSchema>;

export const downloadRequestSchema = z.object({
  object_name: objectNameSchema,
  s3_directory: directorySchema.default("data"),
});
export type DownloadRequestBody = z.output<typeof downloadRequestSchema>;

const recentUploadsQuerySchema = z.object({
  site: z.string({ required_error: 'is required: a site or "all"' }).min(1, 'is required: a site or "all"'),
});

const channelParamSchema = z.string().pipe(infoChannelSchema);
const countParamSchema = z
  .string()
  .regex(/^\d{1,6}$/, "must be a whole number")
  .transform(Number)
  .pipe(z.number().min(1, "must be at least 1").max(MAX_LATEST_IMAGES, `must be at most ${MAX_LATEST_IMAGES}`));

/** Authorizer context as API Gateway passes it on: `{site}` for a site's token, `{anonymous: true}`, or a reason. */
const authorizerContextSchema = z.object({
  site: z.string().min(1).optional(),
  anonymous: z.union([z.boolean(), z.enum(["true", "false"]).transform((v) => v === "true")]).optional(),
  reason: z.string().optional(),
});
export type AuthorizerContext = z.input<typeof authorizerContextSchema>;

/** The context an authorizer returns for a caller (values are strings and booleans, as API Gateway requires). */
export function authorizerContextOf(caller: UploadCaller): Record<string, string | boolean> {
  if (caller.kind === "site") return { site: caller.site };
  if (caller.kind === "anonymous") return { anonymous: true };
  return { reason: caller.reason };
}

/** The caller an authorizer's context describes; malformed or empty context is nobody, never anybody. */
export function callerFromAuthorizerContext(context: unknown): UploadCaller {
  const parsed = authorizerContextSchema.safeParse(context);
  if (!parsed.success) return { kind: "unauthenticated", reason: "the authorizer gave no usable identity" };
  if (parsed.data.site) return { kind: "site", site: parsed.data.site };
  if (parsed.data.anonymous === true) return { kind: "anonymous" };
  return { kind: "unauthenticated", reason: parsed.data.reason ?? "a valid site token is required" };
}

/** The parts of an API Gateway HTTP API (payload 2.0) event the API reads; validated, not cast. */
const gatewayEventSchema = z.object({
  rawPath: z.string(),
  queryStringParameters: z.record(z.string()).optional(),
  headers: z.record(z.string()).optional(),
  body: z.string().optional(),
  isBase64Encoded: z.boolean().default(false),
  requestContext: z.object({
    requestId: z.string().optional(),
    http: z.object({ method: z.string() }),
    authorizer: z.object({ lambda: z.unknown() }).optional(),
  }),
});

/** An API Gateway HTTP API event as an ApiRequest; the caller is set only when an authorizer ran. */
export function requestFromGateway(event: unknown, fallbackRequestId: string): ApiRequest {
  const parsed = gatewayEventSchema.safeParse(event);
  // API Gateway builds the event, so a malformed one is a fault of the deployment, never the caller's.
  if (!parsed.success) throw new ArchiveError(`not an HTTP API event: ${parsed.error.message}`, "invalid_event", false, 500);
  const { rawPath, queryStringParameters, headers, body, isBase64Encoded, requestContext } = parsed.data;
  const lowerCaseHeaders = Object.fromEntries(Object.entries(headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]));
  return {
    method: requestContext.http.method,
    path: rawPath,
    query: queryStringParameters ?? {},
    headers: lowerCaseHeaders,
    body: body !== undefined && isBase64Encoded ? Buffer.from(body, "base64").toString("utf8") : body,
    ...(requestContext.authorizer ? { caller: callerFromAuthorizerContext(requestContext.authorizer.lambda) } : {}),
    requestId: requestContext.requestId ?? fallbackRequestId,
  };
}

/** Validates input with a schema; the first problem becomes a 400 naming its field. */
export function parseInput<S extends z.ZodTypeAny>(schema: S, input: unknown, fieldPrefix = ""): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = [fieldPrefix, ...(issue?.path ?? [])].filter((part) => part !== "").join(".") || "body";
  throw new InvalidInputError(`${field} ${issue?.message ?? "is invalid"}`, field);
}

function parseJsonBody(body: string | undefined): unknown {
  if (body === undefined || body.trim() === "") throw new InvalidInputError("body must be a JSON object", "body");
  try {
    return JSON.parse(body);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    throw new InvalidInputError(`body is not valid JSON: ${error.message}`, "body");
  }
}

function decodePathParameter(raw: string, name: string): string {
  try {
    return decodeURIComponent(raw);
  } catch (error) {
    if (!(error instanceof URIError)) throw error;
    throw new InvalidInputError(`${name} has malformed percent-encoding`, name);
  }
}

// ---- routes ----------------------------------------------------------------------------------------------------

type RouteParams = Record<string, string>;

export interface Route {
  method: "GET" | "POST";
  /** API Gateway route syntax: literal segments and `{name}` parameters. */
  path: string;
  handle(params: RouteParams, request: ApiRequest): Promise<unknown>;
}

function param(params: RouteParams, name: string): string {
  const value = params[name];
  if (value === undefined) throw new InvalidInputError(`${name} is required`, name);
  return value;
}

async function callerOf(request: ApiRequest): Promise<UploadCaller> {
  return request.caller ?? identifyCaller(bearerToken(request.headers.authorization));
}

/** Every route of the API; the stacks and the local server mount exactly these. */
export const routes: readonly Route[] = [
  {
    method: "POST",
    path: "/upload",
    handle: async (_params, request) =>
      requestUpload(parseInput(uploadRequestSchema, parseJsonBody(request.body)), await callerOf(request)),
  },
  {
    method: "POST",
    path: "/download",
    handle: async (_params, request) => requestDownload(parseInput(downloadRequestSchema, parseJsonBody(request.body))),
  },
  {
    method: "GET",
    path: "/recentuploads",
    handle: async (_params, request) => {
      const { site } = parseInput(recentUploadsQuerySchema, request.query);
      return recentUploads(site === "all" ? "all" : assertSiteName(site));
    },
  },
  {
    method: "GET",
    path: "/infoimage/{site}/{channel}",
    handle: async (params) =>
      infoImagePackage(assertSiteName(param(params, "site")), parseInput(channelParamSchema, param(params, "channel"), "channel")),
  },
  {
    method: "GET",
    path: "/image/{base_filename}",
    handle: async (params) => imagePackage(database(), param(params, "base_filename")),
  },
  {
    method: "GET",
    path: "/fitsheader/{base_filename}",
    handle: async (params) => fitsHeaderObject(database(), param(params, "base_filename")),
  },
  {
    method: "GET",
    path: "/{site}/latest_images/{n}",
    handle: async (params) =>
      latestImagePackages(database(), assertSiteName(param(params, "site")), parseInput(countParamSchema, param(params, "n"), "n")),
  },
];

interface CompiledRoute {
  route: Route;
  pattern: RegExp;
  names: string[];
}

const compiledRoutes: CompiledRoute[] = routes.map((route) => {
  const names: string[] = [];
  const source = route.path
    .split("/")
    .map((segment) => {
      const name = /^\{(\w+)\}$/.exec(segment)?.[1];
      if (name === undefined) return segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      names.push(name);
      return "([^/]+)";
    })
    .join("/");
  return { route, pattern: new RegExp(`^${source}$`), names };
});

/** The route for a method and path with its decoded parameters; literal routes win over parameterised ones. */
export function matchRoute(method: string, path: string): { route: Route; params: RouteParams } | "method_not_allowed" | undefined {
  let pathMatched = false;
  for (const { route, pattern, names } of compiledRoutes) {
    const match = pattern.exec(path);
    if (!match) continue;
    pathMatched = true;
    if (route.method !== method.toUpperCase()) continue;
    const params: RouteParams = {};
    names.forEach((name, index) => {
      params[name] = decodePathParameter(match[index + 1] ?? "", name);
    });
    return { route, params };
  }
  return pathMatched ? "method_not_allowed" : undefined;
}

// ---- responses -------------------------------------------------------------------------------------------------

/** The web frontend reads from another origin; nothing here depends on cookies, so any origin may read. */
export const CORS_HEADERS: Readonly<Record<string, string>> = {
  "access-control-allow-origin": "*",
  "access-control-allow-headers": "authorization, content-type",
  "access-control-allow-methods": "GET, POST, OPTIONS",
};

function jsonResponse(status: number, value: unknown): ApiResponse {
  return { status, headers: { "content-type": "application/json", ...CORS_HEADERS }, body: JSON.stringify(value) };
}

/**
 * The one error-to-HTTP mapping: an error with status < 500 is shown to the caller (code, message, field);
 * anything else is logged in full and answered with a generic 500 carrying the request id.
 */
export function errorResponse(error: unknown, requestId: string): ApiResponse {
  if (error instanceof ArchiveError && error.status < 500) {
    logger.info("request refused", { request_id: requestId, status: error.status, code: error.code, message: error.message });
    return jsonResponse(error.status, {
      error: error.code,
      message: error.message,
      ...(error instanceof InvalidInputError ? { field: error.field } : {}),
    });
  }
  logger.error("request failed", { request_id: requestId, error: error instanceof Error ? error : String(error) });
  return jsonResponse(500, { error: "internal", request_id: requestId });
}

/** Routes one request and always answers: results as JSON, errors through `errorResponse`. */
export async function handleApiRequest(request: ApiRequest): Promise<ApiResponse> {
  if (request.method.toUpperCase() === "OPTIONS") {
    return { status: 204, headers: { ...CORS_HEADERS, "access-control-max-age": "3600" }, body: "" };
  }
  try {
    const matched = matchRoute(request.method, request.path);
    if (matched === undefined) throw new NotFoundError(`no route ${request.method} ${request.path}`);
    if (matched === "method_not_allowed") {
      throw new ArchiveError(`${request.method} is not allowed on ${request.path}`, "method_not_allowed", false, 405);
    }
    return jsonResponse(200, await matched.route.handle(matched.params, request));
  } catch (error) {
    return errorResponse(error, request.requestId);
  }
}
