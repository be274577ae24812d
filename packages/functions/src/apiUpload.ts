import { uploadRoutes } from "@archive/core/api/uploadRoutes";
import { createArchiveContext } from "@archive/core/platform/archiveContext";
import { configFromEnvironment } from "@archive/core/platform/config";
import type { ArchiveContext } from "@archive/core/platform/context";
import { httpApiHandler } from "./lib/http";

/** POST /upload: a presigned POST for one file, after the authorizer's caller is checked against the file's site. */
export const createHandler = (ctx: ArchiveContext) => httpApiHandler(ctx, uploadRoutes);
export const handler = createHandler(createArchiveContext(configFromEnvironment()));
