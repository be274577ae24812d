import type { AwsContext } from "../platform/context";
import type { RouteHandlers } from "./handleRequest";
import { downloadRequestSchema, parseInput, parseJsonBody } from "./requests";
import { requestDownload } from "./downloads";

/** The apiDownload function's routes: presigned GETs of files the bucket holds (no database). */
export const downloadRoutes: RouteHandlers<AwsContext> = {
  "POST /download": async (ctx, _params, request) =>
    requestDownload(ctx, parseInput(downloadRequestSchema, parseJsonBody(request.body))),
};
