import { Template } from "aws-cdk-lib/assertions";
import { App, getStack } from "sst/constructs";
import { initProject } from "sst/project.js";
import { buildSharpLayer } from "../../scripts/sharpLayer";
import { archiveStacks } from "../../stacks";
import { Api } from "../../stacks/Api";
import { Database } from "../../stacks/Database";
import { Ingest } from "../../stacks/Ingest";
import { Monitoring } from "../../stacks/Monitoring";
import { Operations } from "../../stacks/Operations";
import { Storage } from "../../stacks/Storage";
import { APP_NAME, type StageConfig } from "../../stacks/stageConfig";

export const ACCOUNT = "123456789012";
export const REGION = "us-east-1";

export const stackFunctions = { Monitoring, Storage, Database, Ingest, Operations, Api } as const;
export type StackName = keyof typeof stackFunctions;

export interface SynthesizedStage {
  app: App;
  templates: Record<StackName, Template>;
}

/**
 * Synthesizes every stack of a stage the way `sst deploy` would, without AWS: deploy mode, a fixed account and region.
 * `bundle` also runs SST's deferred tasks (esbuild of every handler), as a deploy does before synthesis. `config`
 * replaces the stage's settings (a stage after a switch: `{ ...stageConfig("prod"), shadow: false }`).
 */
export async function synthesizeStage(
  stage: string,
  options: { bundle?: boolean; config?: StageConfig } = {},
): Promise<SynthesizedStage> {
  await buildSharpLayer();
  await initProject({ stage });
  const app = new App({ mode: "deploy", stage, name: APP_NAME, region: REGION, account: ACCOUNT });
  archiveStacks(app, options.config);
  if (options.bundle) await app.finish();
  const templates = Object.fromEntries(
    Object.entries(stackFunctions).map(([name, fn]) => [name, Template.fromStack(getStack(fn))]),
  ) as Record<StackName, Template>;
  return { app, templates };
}
