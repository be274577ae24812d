import { z } from "zod";
import { assertObservingDay, counterGaps } from "../exposures/counterGaps";
import { assertSiteName } from "../names/fileName";
import type { ArchiveContext } from "../platform/context";
import { expiryRoutes } from "./expiryRoutes";
import { param, type RouteHandlers } from "./handleRequest";
import { quarantineRoutes } from "./quarantineRoutes";
import { parseInput } from "./requests";
import { statusRoutes } from "./statusRoutes";

const gapsQuerySchema = z.object({ day: z.string({ required_error: "is required: YYYYMMDD" }) });

/**
 * The apiOperations function's routes: what the people running the network ask of the archive. Every one is
 * `operatorOnly` in the route table, so core has refused any caller but an operator before these run.
 */
export const operationRoutes: RouteHandlers<ArchiveContext> = {
  "GET /gaps/{site}": async (ctx, params, request) => {
    const site = assertSiteName(param(params, "site"));
    const { day } = parseInput(gapsQuerySchema, request.query);
    return counterGaps(ctx.db, site, assertObservingDay(day));
  },
  ...expiryRoutes,
  ...statusRoutes,
  ...quarantineRoutes,
};
