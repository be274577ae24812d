import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import type {
  APIGatewayEventRequestContextV2,
  APIGatewayProxyEventV2WithRequestContext,
  APIGatewayProxyStructuredResultV2,
  Context,
} from "aws-lambda";
import { errorResponse, handleApiRequest, requestFromGateway, type ApiResponse } from "@archive/core/httpApi";
import { logger } from "@archive/core/logger";

/**
 * The one middy stack of the HTTP API: the event becomes an ApiRequest, the core routes it, and anything that escapes
 * (a malformed event) goes through the same error mapping, so a caller never sees a message of a 500.
 */
/** A payload 2.0 event; routes behind the Lambda authorizer carry its context, the read routes none. */
export type HttpApiEvent = APIGatewayProxyEventV2WithRequestContext<
  APIGatewayEventRequestContextV2 & { authorizer?: { lambda: Record<string, unknown> } }
>;

function toResult(response: ApiResponse): APIGatewayProxyStructuredResultV2 {
  return { statusCode: response.status, headers: response.headers, body: response.body };
}

export function httpApiHandler() {
  return middy<HttpApiEvent, APIGatewayProxyStructuredResultV2, Error, Context>()
    // Every log line of the request carries its request id, the id a 500's body names.
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use({
      onError: (request) => {
        request.response = toResult(errorResponse(request.error, request.context.awsRequestId));
      },
    })
    .handler(async (event, context) => toResult(await handleApiRequest(requestFromGateway(event, context.awsRequestId))));
}
