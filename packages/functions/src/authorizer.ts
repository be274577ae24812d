import middy from "@middy/core";
import type { APIGatewayRequestAuthorizerEventV2, APIGatewaySimpleAuthorizerWithContextResult } from "aws-lambda";
import { identifyCaller } from "@archive/core/api/siteTokens";
import { configFromEnvironment } from "@archive/core/platform/config";
import { createAwsContext, type AwsContext } from "@archive/core/platform/context";
import { authorizerContextOf } from "./lib/http";

type AuthorizerResult = APIGatewaySimpleAuthorizerWithContextResult<Record<string, string | boolean>>;

/**
 * HTTP API Lambda authorizer (simple responses), for both the site and the operator routes. It names the caller,
 * {site}, {operator} or {anonymous: true}, and lets the route refuse the rest, so refusals are our 401/403 JSON and
 * not API Gateway's bare 403.
 */
export const createHandler = (ctx: AwsContext) =>
  middy<APIGatewayRequestAuthorizerEventV2, AuthorizerResult>().handler(async (event) => {
    const caller = await identifyCaller(ctx, event.headers?.authorization);
    ctx.log.info("caller identified", { request_id: event.requestContext.requestId, caller: caller.kind });
    return { isAuthorized: true, context: authorizerContextOf(caller) };
  });
export const handler = createHandler(createAwsContext(configFromEnvironment()));
