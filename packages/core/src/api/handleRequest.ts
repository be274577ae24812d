import type { AwsContext } from "../platform/context";
import { ArchiveError, InvalidInputError, isUnavailable, NotFoundError } from "../platform/errors";
import { authorizeOperator, type ApiCaller } from "./siteTokens";
import { decodePathParameter } from "./requests";
import { matchRoute, routeKey, type RouteKey } from "./routes";

/**
 * The HTTP API without its transport: a request in, a JSON response out, routed by the one route table and mapped
 * from errors by the one error mapping. The Lambda adapter and the local server translate their events to and from
 * these shapes; CORS is theirs too.
 */
export interface ApiRequest {
  method: string;
  /** The raw (still percent-encoded) path, e.g. "/image/sro-kb001ms-20220629-00010442". */
  path: string;
  query: Record<string, string | undefined>;
  /** Header names in lower case, as API Gateway and Node deliver them. */
  headers: Record<string, string | undefined>;
  body: string | undefined;
  /**
   * Who the authorizer in front of the API found; absent (the local archive), the upload route identifies the caller
   * itself and operator-only routes are open.
   */
  caller?: ApiCaller;
  requestId: string;
}

export interface ApiResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** A route's answer other than 200 with its JSON: e.g. 204 for an info channel that shows nothing. */
export class RouteReply {
  constructor(
    readonly status: number,
    readonly value?: unknown,
  ) {}
}

export type RouteHandler<C> = (ctx: C, params: Record<string, string>, request: ApiRequest) => Promise<unknown>;
/** The handlers a function (or the local server) serves, by route key; a route without one is not served here. */
export type RouteHandlers<C> = Partial<Record<RouteKey, RouteHandler<C>>>;

function jsonResponse(status: number, value: unknown): ApiResponse {
  if (value === undefined) return { status, headers: {}, body: "" };
  return { status, headers: { "content-type": "application/json" }, body: JSON.stringify(value) };
}

/**
 * The largest request body the API reads (413 beyond): an upload request with a 14,400-card header is ~1 MB of JSON,
 * and API Gateway itself stops at 10 MB.
 */
export const MAX_REQUEST_BODY_BYTES = 1024 * 1024;

export function payloadTooLarge(): ArchiveError {
  return new ArchiveError(`request bodies are limited to ${MAX_REQUEST_BODY_BYTES} bytes`, "payload_too_large", false, 413);
}

/** How long a caller should wait before retrying while a dependency is down. */
export const RETRY_AFTER_SECONDS = 5;

/**
 * The one error-to-HTTP mapping: an error with status < 500 is shown to the caller (code, message, field); a
 * dependency that is down (the database during a failover) is a 503 with Retry-After; anything else is logged in full
 * and answered with a generic 500 carrying the request id.
 */
export function errorResponse(ctx: Pick<AwsContext, "log">, error: unknown, requestId: string): ApiResponse {
  if (error instanceof ArchiveError && error.status < 500) {
    ctx.log.info("request refused", { request_id: requestId, status: error.status, code: error.code, message: error.message });
    return jsonResponse(error.status, {
      error: error.code,
      message: error.message,
      ...(error instanceof InvalidInputError ? { field: error.field } : {}),
    });
  }
  if (isUnavailable(error)) {
    ctx.log.warn("a dependency is unavailable", { request_id: requestId, error: error instanceof Error ? error.message : String(error) });
    const response = jsonResponse(503, { error: "unavailable", message: "the archive is briefly unavailable; retry shortly", request_id: requestId });
    return { ...response, headers: { ...response.headers, "retry-after": String(RETRY_AFTER_SECONDS) } };
  }
  ctx.log.error("request failed", { request_id: requestId, error: error instanceof Error ? error : String(error) });
  return jsonResponse(500, { error: "internal", request_id: requestId });
}

/** Routes one request and always answers: results as JSON, errors through `errorResponse`. */
export async function handleApiRequest<C extends AwsContext>(
  ctx: C,
  handlers: RouteHandlers<C>,
  request: ApiRequest,
): Promise<ApiResponse> {
  try {
    const matched = matchRoute(request.method, request.path);
    if (matched === undefined) throw new NotFoundError(`no route ${request.method} ${request.path}`);
    if (matched === "method_not_allowed") {
      throw new ArchiveError(`${request.method} is not allowed on ${request.path}`, "method_not_allowed", false, 405);
    }
    // Before anything about the body: a caller who may not call the route learns nothing more of it.
    if (matched.route.operatorOnly === true && request.caller !== undefined) authorizeOperator(request.caller);
    // A PUT's body is optional (PUT /pin/{base_filename}); one that is sent is JSON, as every POST's.
    const sendsBody = matched.route.method === "POST" || (matched.route.method === "PUT" && request.body !== undefined);
    if (sendsBody && !isJson(request.headers["content-type"])) {
      throw new ArchiveError("the body must be JSON (content-type: application/json)", "unsupported_media_type", false, 415);
    }
    if (request.body !== undefined && Buffer.byteLength(request.body, "utf8") > MAX_REQUEST_BODY_BYTES) throw payloadTooLarge();
    const handler = handlers[routeKey(matched.route)];
    if (handler === undefined) throw new NotFoundError(`no route ${request.method} ${request.path} in this function`);
    const params = Object.fromEntries(
      Object.entries(matched.rawParams).map(([name, raw]) => [name, decodePathParameter(raw, name)]),
    );
    const result = await handler(ctx, params, request);
    return result instanceof RouteReply ? jsonResponse(result.status, result.value) : jsonResponse(200, result);
  } catch (error) {
    return errorResponse(ctx, error, request.requestId);
  }
}

/** application/json, with or without parameters (`; charset=utf-8`). */
function isJson(contentType: string | undefined): boolean {
  return /^application\/json\s*(;|$)/i.test(contentType ?? "");
}

/** A route parameter the route table promises; its absence is a fault of the table, reported as bad input. */
export function param(params: Record<string, string>, name: string): string {
  const value = params[name];
  if (value === undefined) throw new InvalidInputError(`${name} is required`, name);
  return value;
}
