import { z } from "zod";
import { exposureStatus, stuckExposures } from "../exposures/exposureStatus";
import type { ArchiveContext } from "../platform/context";
import { param, type RouteHandlers } from "./handleRequest";
import { parseInput } from "./requests";

const stuckQuerySchema = z.object({ site: z.string().optional() });

/** Exposure status (exposureStatus.ts): one exposure's steps and missing files, and the stuck ones. Operators only. */
export const statusRoutes: RouteHandlers<ArchiveContext> = {
  "GET /status/{base_filename}": (ctx, params) => exposureStatus(ctx, param(params, "base_filename")),
  "GET /stuck": async (ctx, _params, request) => {
    const { site } = parseInput(stuckQuerySchema, request.query);
    const exposures = await stuckExposures(ctx, site === "" ? undefined : site);
    return { site: site ?? null, stuck_after_minutes: ctx.config.STUCK_AFTER_MINUTES, exposures };
  },
};
