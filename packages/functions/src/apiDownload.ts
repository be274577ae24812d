import { downloadRoutes } from "@archive/core/api/downloadRoutes";
import { configFromEnvironment } from "@archive/core/platform/config";
import { createAwsContext, type AwsContext } from "@archive/core/platform/context";
import { httpApiHandler } from "./lib/http";

/** POST /download: a presigned GET for one file the bucket holds. */
export const createHandler = (ctx: AwsContext) => httpApiHandler(ctx, downloadRoutes);
export const handler = createHandler(createAwsContext(configFromEnvironment()));
