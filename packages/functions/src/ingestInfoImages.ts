import { infoImagePipeline } from "@archive/core/infoImages/ingestInfoImage";
import { configFromEnvironment } from "@archive/core/platform/config";
import { createAwsContext, type AwsContext } from "@archive/core/platform/context";
import { objectEventHandler } from "./lib/objectEvents";

/** info-images/ uploads: SQS batches of S3 notifications (or direct S3 events) → the info-image pipeline per object. */
export const createHandler = (ctx: AwsContext) => objectEventHandler(ctx, infoImagePipeline);
export const handler = createHandler(createAwsContext(configFromEnvironment()));
