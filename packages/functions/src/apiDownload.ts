import { downloadRoutes } from "@archive/core/api/downloadRoutes";
import { createArchiveContext } from "@archive/core/platform/archiveContext";
import { configFromEnvironment } from "@archive/core/platform/config";
import type { ArchiveContext } from "@archive/core/platform/context";
import { httpApiHandler } from "./lib/http";

/** POST /download (FITS and TIFF conversions) and POST /downloadzip: sized for a full frame, apart from the reads. */
export const createHandler = (ctx: ArchiveContext) => httpApiHandler(ctx, downloadRoutes);
export const handler = createHandler(createArchiveContext(configFromEnvironment()));
