import { z } from "zod";
import { recentUploads } from "../deliveries/uploadLog";
import { assertSiteName } from "../names/fileName";
import type { ArchiveContext } from "../platform/context";
import { param, type RouteHandlers } from "./handleRequest";
import { MAX_LATEST_IMAGES, fitsHeaderObject, imagePackage, infoImagePackage, latestImagePackages } from "./packages";
import { infoChannelSchema, parseInput } from "./requests";

const recentUploadsQuerySchema = z.object({
  site: z.string({ required_error: 'is required: a site or "all"' }).min(1, 'is required: a site or "all"'),
});

const channelParamSchema = z.string().pipe(infoChannelSchema);
const countParamSchema = z
  .string()
  .regex(/^\d{1,6}$/, "must be a whole number")
  .transform(Number)
  .pipe(z.number().min(1, "must be at least 1").max(MAX_LATEST_IMAGES, `must be at most ${MAX_LATEST_IMAGES}`));

/** The apiReads function's routes: what the frontend reads. */
export const readRoutes: RouteHandlers<ArchiveContext> = {
  "GET /recentuploads": async (ctx, _params, request) => {
    const { site } = parseInput(recentUploadsQuerySchema, request.query);
    return recentUploads(ctx, site === "all" ? "all" : assertSiteName(site), ctx.clock());
  },
  "GET /infoimage/{site}/{channel}": async (ctx, params) =>
    infoImagePackage(
      ctx,
      assertSiteName(param(params, "site")),
      parseInput(channelParamSchema, param(params, "channel"), "channel"),
    ),
  "GET /image/{base_filename}": async (ctx, params) => imagePackage(ctx, param(params, "base_filename")),
  "GET /fitsheader/{base_filename}": async (ctx, params) => fitsHeaderObject(ctx, param(params, "base_filename")),
  "GET /{site}/latest_images/{n}": async (ctx, params) =>
    latestImagePackages(
      ctx,
      assertSiteName(param(params, "site")),
      parseInput(countParamSchema, param(params, "n"), "n"),
    ),
};
