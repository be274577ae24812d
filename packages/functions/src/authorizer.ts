import middy from "@middy/core";
import type { APIGatewayRequestAuthorizerEventV2, APIGatewaySimpleAuthorizerWithContextResult } from "aws-lambda";
import { authorizerContextOf } from "@archive/core/httpApi";
import { logger } from "@archive/core/logger";
import { bearerToken, identifyCaller } from "@archive/core/siteTokens";

type AuthorizerResult = APIGatewaySimpleAuthorizerWithContextResult<Record<string, string | boolean>>;

/**
 * HTTP API Lambda authorizer (simple responses). It names the caller, {site} or {anonymous: true}, and lets the
 * upload route refuse the rest, so refusals are our 401/403 JSON and not API Gateway's bare 403.
 */
export const handler = middy<APIGatewayRequestAuthorizerEventV2, AuthorizerResult>().handler(async (event) => {
  const caller = await identifyCaller(bearerToken(event.headers?.authorization));
  logger.info("caller identified", { request_id: event.requestContext.requestId, caller: caller.kind });
  return { isAuthorized: true, context: authorizerContextOf(caller) };
});
