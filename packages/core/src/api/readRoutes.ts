import { z } from "zod";
import { recentUploads } from "../deliveries/uploadLog";
import { findImage } from "../exposures/imageQueries";
import { filteredImages, latestImagePerSite, latestSiteImages, type ImageFilters } from "../exposures/imageQueries";
import { parseUtc } from "../exposures/imageRecord";
import { assertSiteName, parseBaseFilename } from "../names/fileName";
import type { ArchiveContext } from "../platform/context";
import { NotFoundError } from "../platform/errors";
import { param, RouteReply, type RouteHandlers } from "./handleRequest";
import { collapseSmartStacks, fitsHeaderObject, infoImagePackage, toImagePackage, toImagePackages } from "./packages";
import { infoChannelSchema, parseInput } from "./requests";

/** The most exposures one GET /{site}/latest_images/{n} returns. */
export const MAX_LATEST_IMAGES = 500;
/**
 * The most exposures one GET /filtered_images returns (before smart stacks collapse). The replaced API had no limit;
 * a night of one site is a few thousand, and an unbounded query over the whole archive would not fit in a response.
 */
export const MAX_FILTERED_IMAGES = 10_000;

const recentUploadsQuerySchema = z.object({
  site: z.string({ required_error: 'is required: a site or "all"' }).min(1, 'is required: a site or "all"'),
});
const latestImagesQuerySchema = z.object({ userid: z.string().min(1).optional() });

/**
 * A date of the night view, UTC: the frontend sends `YYYY-MM-DD HH:mm:ss`, older callers `2020-08-30+12` (a `+`
 * where the space was, and only the hour); ISO 8601 with `T` and `Z` works too.
 */
const queryDateSchema = z.string().transform((text, issue): Date => {
  const spaced = text.trim().replace(/^(\d{4}-\d{2}-\d{2})[+ ](\d)/, "$1 $2");
  const withMinutes = /^\d{4}-\d{2}-\d{2} \d{2}$/.test(spaced) ? `${spaced}:00` : spaced;
  const date = parseUtc(withMinutes);
  if (date === null) {
    issue.addIssue({ code: z.ZodIssueCode.custom, message: "must be a date, YYYY-MM-DD HH:mm:ss (UTC)" });
    return z.NEVER;
  }
  return date;
});
const queryNumberSchema = z.string().regex(/^\s*[+-]?(\d+\.?\d*|\.\d+)\s*$/, "must be a number").transform(Number);

/** GET /filtered_images: every parameter optional, every given one must match; a bad value is a 400 naming it. */
const filteredImagesQuerySchema = z
  .object({
    site: z.string().min(1).optional(),
    filter: z.string().min(1).optional(),
    username: z.string().min(1).optional(),
    user_id: z.string().min(1).optional(),
    exposure_time_min: queryNumberSchema.optional(),
    exposure_time_max: queryNumberSchema.optional(),
    start_date: queryDateSchema.optional(),
    end_date: queryDateSchema.optional(),
    filename: z.string().min(1).optional(),
  })
  .transform(
    (query): ImageFilters => ({
      ...(query.site !== undefined ? { site: assertSiteName(query.site) } : {}),
      ...(query.filter !== undefined ? { filter: query.filter } : {}),
      ...(query.username !== undefined ? { username: query.username } : {}),
      ...(query.user_id !== undefined ? { userId: query.user_id } : {}),
      ...(query.exposure_time_min !== undefined ? { exposureTimeMin: query.exposure_time_min } : {}),
      ...(query.exposure_time_max !== undefined ? { exposureTimeMax: query.exposure_time_max } : {}),
      ...(query.start_date !== undefined ? { startDate: query.start_date } : {}),
      ...(query.end_date !== undefined ? { endDate: query.end_date } : {}),
      ...(query.filename !== undefined ? { filename: query.filename } : {}),
    }),
  );

const channelParamSchema = z.string().pipe(infoChannelSchema);
const countParamSchema = z
  .string()
  .regex(/^\d{1,6}$/, "must be a whole number")
  .transform(Number)
  .pipe(z.number().min(1, "must be at least 1").max(MAX_LATEST_IMAGES, `must be at most ${MAX_LATEST_IMAGES}`));

/** The apiReads function's routes: what the frontend reads (CONTRACTS.md, "Read routes"). */
export const readRoutes: RouteHandlers<ArchiveContext> = {
  "GET /recentuploads": async (ctx, _params, request) => {
    const { site } = parseInput(recentUploadsQuerySchema, request.query);
    return recentUploads(ctx, site === "all" ? "all" : assertSiteName(site), ctx.clock());
  },

  "GET /infoimage/{site}/{channel}": async (ctx, params) => {
    const channel = parseInput(channelParamSchema, param(params, "channel"), "channel");
    const found = await infoImagePackage(ctx, assertSiteName(param(params, "site")), channel);
    return found ?? new RouteReply(204);
  },

  "GET /{site}/latest_images/{n}": async (ctx, params, request) => {
    const site = assertSiteName(param(params, "site"));
    const count = parseInput(countParamSchema, param(params, "n"), "n");
    const { userid } = parseInput(latestImagesQuerySchema, request.query);
    return toImagePackages(ctx, await latestSiteImages(ctx.db, site, count, userid));
  },

  "GET /filtered_images": async (ctx, _params, request) => {
    const filters = parseInput(filteredImagesQuerySchema, request.query);
    const rows = await filteredImages(ctx.db, filters, MAX_FILTERED_IMAGES);
    return collapseSmartStacks(await toImagePackages(ctx, rows));
  },

  "GET /latest_image_all_sites": async (ctx) => {
    const packages = await toImagePackages(ctx, await latestImagePerSite(ctx.db));
    return Object.fromEntries(packages.map((image) => [image.site, image.jpg_url]));
  },

  "GET /image/{base_filename}": async (ctx, params) => {
    const base = param(params, "base_filename");
    parseBaseFilename(base);
    const row = await findImage(ctx.db, base);
    // The frontend adds every answer to its thumbnail strip, so an exposure without a medium jpg is not one yet.
    if (!row || row.jpg_medium_exists !== true) throw new NotFoundError(`no image ${base} with a jpg in the archive`);
    return toImagePackage(ctx, row);
  },

  "GET /fitsheader/{base_filename}": async (ctx, params) => {
    const base = param(params, "base_filename");
    parseBaseFilename(base);
    const row = await findImage(ctx.db, base);
    if (!row) throw new NotFoundError(`no exposure ${base} in the archive`);
    return fitsHeaderObject(base, row.header);
  },
};
