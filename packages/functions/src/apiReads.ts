import { readRoutes } from "@archive/core/api/readRoutes";
import { createArchiveContext } from "@archive/core/platform/archiveContext";
import { configFromEnvironment } from "@archive/core/platform/config";
import type { ArchiveContext } from "@archive/core/platform/context";
import { httpApiHandler } from "./lib/http";

/** GET /recentuploads, /infoimage/{site}/{channel}, /{site}/latest_images/{n}, /image/{base}, /fitsheader/{base}. */
export const createHandler = (ctx: ArchiveContext) => httpApiHandler(ctx, readRoutes);
export const handler = createHandler(createArchiveContext(configFromEnvironment()));
