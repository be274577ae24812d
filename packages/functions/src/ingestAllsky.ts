import { allskyPipeline } from "@archive/core/allsky/ingestAllsky";
import { configFromEnvironment } from "@archive/core/platform/config";
import { createAwsContext, type AwsContext } from "@archive/core/platform/context";
import { objectEventHandler } from "./lib/objectEvents";

/** allsky/ uploads: SQS batches of S3 notifications (or direct S3 events) → the allsky pipeline per object. */
export const createHandler = (ctx: AwsContext) => objectEventHandler(ctx, allskyPipeline);
export const handler = createHandler(createAwsContext(configFromEnvironment()));
