import { exposurePipeline } from "@archive/core/exposures/ingestExposure";
import { createArchiveContext } from "@archive/core/platform/archiveContext";
import { configFromEnvironment } from "@archive/core/platform/config";
import type { ArchiveContext } from "@archive/core/platform/context";
import { objectEventHandler } from "./lib/objectEvents";

/** data/ uploads: SQS batches of S3 notifications (or direct S3 events) → the exposure pipeline per object. */
export const createHandler = (ctx: ArchiveContext) => objectEventHandler(ctx, exposurePipeline);
export const handler = createHandler(createArchiveContext(configFromEnvironment()));
