import type { App } from "sst/constructs";
import { Api } from "./Api";
import { Database } from "./Database";
import { Ingest } from "./Ingest";
import { Monitoring } from "./Monitoring";
import { Storage } from "./Storage";
import { stageConfig } from "./stageConfig";

/** Every stack of the archive, in dependency order; sst.config.ts, the stack tests and scripts/synth.ts all call this. */
export function archiveStacks(app: App): void {
  // Disposable stages take their data with them on `sst remove`; production keeps everything.
  if (!stageConfig(app.stage).retainData) app.setDefaultRemovalPolicy("destroy");
  app.stack(Monitoring).stack(Storage).stack(Database).stack(Ingest).stack(Api);
}
