import type { App } from "sst/constructs";
import { Api } from "./Api";
import { Database } from "./Database";
import { Ingest } from "./Ingest";
import { Monitoring } from "./Monitoring";
import { Operations } from "./Operations";
import { Storage } from "./Storage";
import { bindStageConfig, stageConfig, type StageConfig } from "./stageConfig";

/**
 * Every stack of the archive, in dependency order; sst.config.ts, the stack tests and scripts/synth.ts all call this.
 * The stage's own settings unless others are given (a test of a switch).
 */
export function archiveStacks(app: App, config: StageConfig = stageConfig(app.stage)): void {
  bindStageConfig(app, config);
  // Disposable stages take their data with them on `sst remove`; production keeps everything.
  if (!config.retainData) app.setDefaultRemovalPolicy("destroy");
  app.stack(Monitoring).stack(Storage).stack(Database).stack(Ingest).stack(Operations).stack(Api);
}
