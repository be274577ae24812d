import type { StageExpectations } from "@archive/core/cutover/preflight";
import type { ShadowTables } from "@archive/core/cutover/shadowComparison";
import { tables } from "@archive/core/platform/tables";
import { APP_NAME, LIVE_SCHEMA, RUNNING_SYSTEM_TABLES, SHADOW_SCHEMA, type StageConfig } from "../stacks/stageConfig";

/**
 * What the cut-over scripts (preflight, compare) need to know of a stage, read from its settings (stacks/stageConfig.ts)
 * and core's table shapes (platform/tables.ts), so they check exactly what the stacks deploy.
 */

/** A resource the stage's stack creates is named `{stage}-{app}-{name}` (SST's logicalPrefixedName). */
export const stageResourcePrefix = (stage: string) => `${stage}-${APP_NAME}-`;

/** The queue a datastream setting names, and the account that owns it when given by ARN. */
function queueOf(setting: StageConfig["datastreamQueue"]): StageExpectations["queue"] {
  if (setting.kind === "new") return undefined;
  if ("name" in setting) return { name: setting.name };
  // arn:aws:sqs:{region}:{account}:{name}
  const [, , , , accountId, name] = setting.arn.split(":");
  return { name: name ?? setting.arn, ...(accountId ? { accountId } : {}) };
}

/** What the stage expects to find in the account before its stack is deployed: what it uses and does not create. */
export function preflightExpectations(config: StageConfig): StageExpectations {
  return {
    stage: config.stage,
    ...(config.bucket.kind === "existing"
      ? { bucket: { name: config.bucket.name, delivery: config.objectEvents, ownResourcePrefix: stageResourcePrefix(config.stage) } }
      : {}),
    tables:
      config.runningSystemTables.kind === "existing"
        ? RUNNING_SYSTEM_TABLES.map((name) => {
            const definition = tables[name];
            return {
              name: definition.baseName,
              partitionKey: definition.partitionKey,
              ...("sortKey" in definition ? { sortKey: definition.sortKey } : {}),
              ttlAttribute: definition.ttlAttribute,
              ...("stream" in definition ? { stream: definition.stream } : {}),
            };
          })
        : [],
    ...(queueOf(config.datastreamQueue) ? { queue: queueOf(config.datastreamQueue) } : {}),
    ...(config.database.kind === "existing" ? { databaseSecret: config.database.secret } : {}),
  };
}

/**
 * The live tables and schema of a stage beside the shadow ones its shadow mode writes (stacks/Storage.ts): the running
 * system's tables by their own names (or the stage's, where it created them), the shadow copies `shadow-{name}`.
 */
export function shadowTables(config: StageConfig): ShadowTables {
  const prefix = stageResourcePrefix(config.stage);
  const pair = (name: (typeof RUNNING_SYSTEM_TABLES)[number]) => {
    const baseName = tables[name].baseName;
    return {
      live: config.runningSystemTables.kind === "existing" ? baseName : `${prefix}${baseName}`,
      shadow: `${prefix}shadow-${baseName}`,
    };
  };
  return {
    uploadLog: pair("uploadLog"),
    infoImages: pair("infoImages"),
    expirations: pair("expirations"),
    schemas: { live: LIVE_SCHEMA, shadow: SHADOW_SCHEMA },
  };
}
