import { z } from "zod";
import { expiryPlan } from "../expirations/expiryPlan";
import { pinExposure, unpinExposure } from "../expirations/pins";
import type { ArchiveContext } from "../platform/context";
import { param, type ApiRequest, type RouteHandlers } from "./handleRequest";
import { parseInput, parseJsonBody } from "./requests";

const expiryQuerySchema = z.object({ site: z.string().optional() });
const pinBodySchema = z.object({ note: z.string().max(1000).optional() }).strict();

/** Who pins: the operator the authorizer named; locally, where the routes are open, `local`. */
function operatorOf(request: ApiRequest): string {
  return request.caller?.kind === "operator" ? request.caller.operator : "local";
}

/** Expiry's operations routes (operatorOnly): the dry-run plan, and pins. */
export const expiryRoutes: RouteHandlers<ArchiveContext> = {
  "GET /expiry": async (ctx, _params, request) => {
    const { site } = parseInput(expiryQuerySchema, request.query);
    return expiryPlan(ctx, { site, now: ctx.clock() });
  },
  "PUT /pin/{base_filename}": async (ctx, params, request) => {
    const { note } = request.body === undefined ? {} : parseInput(pinBodySchema, parseJsonBody(request.body));
    const pin = await pinExposure(ctx, param(params, "base_filename"), { pinnedBy: operatorOf(request), note });
    return { ...pin, pinned_at: pin.pinned_at.toISOString() };
  },
  "DELETE /pin/{base_filename}": (ctx, params) => unpinExposure(ctx, param(params, "base_filename")),
};
