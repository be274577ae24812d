import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import type {
  APIGatewayEventRequestContextV2,
  APIGatewayProxyEventV2WithRequestContext,
  APIGatewayProxyStructuredResultV2,
  Context,
} from "aws-lambda";
import { z } from "zod";
import { errorResponse, handleApiRequest, type ApiRequest, type ApiResponse, type RouteHandlers } from "@archive/core/api/handleRequest";
import type { ApiCaller } from "@archive/core/api/siteTokens";
import type { AwsContext } from "@archive/core/platform/context";
import { ArchiveError } from "@archive/core/platform/errors";

/**
 * The HTTP API's transport: API Gateway (HTTP API, payload 2.0) events in, structured results out, and the Lambda
 * authorizer's context. CORS is API Gateway's (configured once, in the stack, from core's CORS_POLICY); routing,
 * validation and the error mapping are core's.
 */
export type HttpApiEvent = APIGatewayProxyEventV2WithRequestContext<
  APIGatewayEventRequestContextV2 & { authorizer?: { lambda: Record<string, unknown> } }
>;

/**
 * Authorizer context as API Gateway passes it on: `{site}` for a site's token, `{operator}` for an operator's,
 * `{anonymous: true}`, or a reason.
 */
const authorizerContextSchema = z.object({
  site: z.string().min(1).optional(),
  operator: z.string().min(1).optional(),
  anonymous: z.union([z.boolean(), z.enum(["true", "false"]).transform((v) => v === "true")]).optional(),
  reason: z.string().optional(),
});

/** The context an authorizer returns for a caller (values are strings and booleans, as API Gateway requires). */
export function authorizerContextOf(caller: ApiCaller): Record<string, string | boolean> {
  if (caller.kind === "site") return { site: caller.site };
  if (caller.kind === "operator") return { operator: caller.operator };
  if (caller.kind === "anonymous") return { anonymous: true };
  return { reason: caller.reason };
}

/** The caller an authorizer's context describes; malformed or empty context is nobody, never anybody. */
export function callerFromAuthorizerContext(context: unknown): ApiCaller {
  const parsed = authorizerContextSchema.safeParse(context);
  // A context naming both a site and an operator is no authorizer's: nobody, rather than either.
  if (!parsed.success || (parsed.data.site && parsed.data.operator)) {
    return { kind: "unauthenticated", reason: "the authorizer gave no usable identity" };
  }
  if (parsed.data.site) return { kind: "site", site: parsed.data.site };
  if (parsed.data.operator) return { kind: "operator", operator: parsed.data.operator };
  if (parsed.data.anonymous === true) return { kind: "anonymous" };
  return { kind: "unauthenticated", reason: parsed.data.reason ?? "a valid site token is required" };
}

/** The parts of an HTTP API event the API reads; validated, not cast. */
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

function toResult(response: ApiResponse): APIGatewayProxyStructuredResultV2 {
  return { statusCode: response.status, headers: response.headers, body: response.body };
}

/**
 * The one middy stack of the HTTP API functions: the event becomes an ApiRequest, core routes it to this function's
 * handlers, and anything that escapes (a malformed event) goes through the same error mapping, so a caller never sees
 * the message of a 500.
 */
export function httpApiHandler<C extends AwsContext>(ctx: C, routes: RouteHandlers<C>) {
  return middy<HttpApiEvent, APIGatewayProxyStructuredResultV2, Error, Context>()
    // Every log line of the request carries its request id, the id a 500's body names.
    .use(injectLambdaContext(ctx.log, { resetKeys: true }))
    .use({
      onError: (request) => {
        request.response = toResult(errorResponse(ctx, request.error, request.context.awsRequestId));
      },
    })
    .handler(async (event, context) => toResult(await handleApiRequest(ctx, routes, requestFromGateway(event, context.awsRequestId))));
}
