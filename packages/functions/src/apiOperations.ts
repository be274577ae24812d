import { operationRoutes } from "@archive/core/api/operationRoutes";
import { createArchiveContext } from "@archive/core/platform/archiveContext";
import { configFromEnvironment } from "@archive/core/platform/config";
import type { ArchiveContext } from "@archive/core/platform/context";
import { httpApiHandler } from "./lib/http";

/** The operations routes (GET /gaps/{site}), behind the operator authorizer: core refuses any caller but an operator. */
export const createHandler = (ctx: ArchiveContext) => httpApiHandler(ctx, operationRoutes);
export const handler = createHandler(createArchiveContext(configFromEnvironment()));
