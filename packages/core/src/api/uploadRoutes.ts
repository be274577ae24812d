import type { ArchiveContext } from "../platform/context";
import type { RouteHandlers } from "./handleRequest";
import { parseInput, parseJsonBody, uploadRequestSchema } from "./requests";
import { identifyCaller } from "./siteTokens";
import { requestUpload } from "./uploads";

/** The apiUpload function's routes. Behind API Gateway the authorizer has named the caller; locally the route does. */
export const uploadRoutes: RouteHandlers<ArchiveContext> = {
  "POST /upload": async (ctx, _params, request) =>
    requestUpload(
      ctx,
      parseInput(uploadRequestSchema, parseJsonBody(request.body)),
      request.caller ?? (await identifyCaller(ctx, request.headers.authorization)),
    ),
};
