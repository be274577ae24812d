import { z } from "zod";
import { parseSince } from "../cutover/shadowComparison";
import { assertSiteName } from "../names/fileName";
import type { ArchiveContext } from "../platform/context";
import { listQuarantine, quarantinedObject } from "../quarantine/quarantine";
import { reconcile } from "../quarantine/reconcile";
import { reingest } from "../quarantine/reingest";
import type { RouteHandlers } from "./handleRequest";
import { parseInput, parseJsonBody } from "./requests";

const MAX_KEYS = 1000;

const quarantineQuerySchema = z.object({
  site: z.string().optional(),
  since: z.string().optional(),
  /** One object by its key (`archive quarantine show KEY`). */
  key: z.string().min(1).optional(),
});

const reingestBodySchema = z.union([
  z.object({ keys: z.array(z.string().min(1).max(1024)).min(1, "must name at least one key").max(MAX_KEYS, `must name at most ${MAX_KEYS} keys`) }).strict(),
  z.object({ quarantined: z.literal(true), since: z.string().optional(), site: z.string().optional() }).strict(),
]);

const reconcileBodySchema = z.object({ since: z.string().default("2h"), dry_run: z.boolean().default(false) }).strict();

/** GET /quarantine, POST /reingest, POST /reconcile: objects ingestion refused or never saw, and putting them through again. */
export const quarantineRoutes: RouteHandlers<ArchiveContext> = {
  "GET /quarantine": async (ctx, _params, request) => {
    const query = parseInput(quarantineQuerySchema, request.query);
    if (query.key !== undefined) return { objects: [await quarantinedObject(ctx, query.key)] };
    const objects = await listQuarantine(ctx, {
      ...(query.site !== undefined ? { site: assertSiteName(query.site) } : {}),
      ...(query.since !== undefined ? { since: parseSince(query.since, ctx.clock()) } : {}),
    });
    return { objects };
  },
  "POST /reingest": async (ctx, _params, request) => {
    const body = parseInput(reingestBodySchema, parseJsonBody(request.body));
    if ("keys" in body) return reingest(ctx, { keys: body.keys });
    return reingest(ctx, {
      quarantined: true,
      ...(body.since !== undefined ? { since: parseSince(body.since, ctx.clock()) } : {}),
      ...(body.site !== undefined ? { site: assertSiteName(body.site) } : {}),
    });
  },
  "POST /reconcile": async (ctx, _params, request) => {
    const body = parseInput(reconcileBodySchema, request.body === undefined || request.body.trim() === "" ? {} : parseJsonBody(request.body));
    const budget = ctx.config.RECONCILE_API_BUDGET_SECONDS;
    return reconcile(ctx, {
      since: parseSince(body.since, ctx.clock()),
      dryRun: body.dry_run,
      ...(budget !== undefined ? { budgetMs: budget * 1000 } : {}),
    });
  },
};
